"""Azure ML's v1 run history (the regional data plane's ``/history/v1.0{workspace}/...``): experiments and their
runs, as far as a move needs them: running data profiling jobs, which the workspace-move documentation ("Move Azure
Machine Learning workspaces between subscriptions", Limitations) lists among the unsupported scenarios.

Sources (azureml-core 1.61, ``azureml/_restclient``, the generated Run History client):
- ``ExperimentOperations.create``: POST ``/history/v1.0{ws}/experiments/{experimentName}`` -> ExperimentDto
  (experimentId, name, createdUtc); ``get_by_query``: POST ``.../experiments:query`` with a QueryParamsDto
  (filter, continuationToken, orderby, top) -> PaginatedExperimentDto (value, continuationToken).
- ``RunOperations.patch``: PATCH ``.../experiments/{experimentName}/runs/{runId}`` with a CreateRunDto (runId,
  status, properties, tags, target, ...) creates or updates a run -> RunDto; ``get``: GET the same path;
  ``get_by_query``: POST ``.../experiments/{experimentName}/runs:query`` -> PaginatedRunDto.
- Filters are the OData forms azureml-core writes (``_restclient/_odata/constants.py``): a property's presence
  ``(Properties/{key} ne null or Properties/{key} eq null)``, ``(Properties/{key} eq {value})``,
  ``(Status eq {value})``, joined with ``and``.
- A dataset profile run: azureml-core's ``DatasetProfileRun`` (``azureml/data/_dataset_profile_run.py``) is a run
  whose properties hold ``_azureml.DatasetActionId`` (``azureml/data/constants.py``: _PROFILE_RUN_ACTION_ID), with a
  run id ``dataset_<uuid>`` (``dataset_profile_run_config._submit_profile``).
- Run statuses (azureml-core ``azureml/core/run.py`` RunStatus / _TERMINAL_STATES): NotStarted, Queued, Preparing,
  Provisioning, Starting, Running, CancelRequested, Finalizing, and the terminal Completed, Failed, Canceled.
"""

from __future__ import annotations

import re
from typing import Any

from amlops.emulator.errors import ArmError, bad_request
from amlops.emulator.models.common import require_workspace
from amlops.emulator.state import State

EXPERIMENTS = "experiments"
RUNS = "runs"
EXPERIMENT_TYPE = "runhistory/experiments"
RUN_TYPE = "runhistory/runs"
PROFILE_ACTION = "_azureml.DatasetActionId"
STATUSES = ("NotStarted", "Queued", "Preparing", "Provisioning", "Starting", "Running", "CancelRequested", "Finalizing", "Completed", "Failed", "Canceled", "NotResponding")
TERMINAL = ("Completed", "Failed", "Canceled")
PAGE = 100

_HAS_PROPERTY = re.compile(r"\(Properties/([\w.]+) ne null or Properties/\1 eq null\)")
_PROPERTY_EQ = re.compile(r"\(Properties/([\w.]+) eq ([^)\s]+)\)")
_STATUS_EQ = re.compile(r"\(Status eq (\w+)\)")


def _experiment_id(workspace_id: str, name: str) -> str:
    return f"{workspace_id}/{EXPERIMENTS}/{name}"


def create_experiment(state: State, workspace_id: str, name: str) -> dict[str, Any]:
    workspace = require_workspace(state, workspace_id)
    eid = _experiment_id(workspace["id"], name)
    found = state.store.get(eid)
    if found is not None:
        # The service answers an existing name with a conflict; azureml-core's get_or_create reads it then.
        raise ArmError(409, "UserError", f"Experiment '{name}' already exists.")
    return state.store.put({"id": eid, "type": EXPERIMENT_TYPE, "name": name, "experimentId": state.new_id(), "createdUtc": state.clock.iso()})


def _require_experiment(state: State, workspace_id: str, name: str) -> dict[str, Any]:
    workspace = require_workspace(state, workspace_id)
    found = state.store.get(_experiment_id(workspace["id"], name))
    if found is None:
        raise ArmError(404, "UserError", f"Experiment '{name}' was not found in workspace '{workspace['name']}'.")
    return found


def experiment_view(experiment: dict[str, Any]) -> dict[str, Any]:
    return {k: experiment[k] for k in ("experimentId", "name", "createdUtc")}


def patch_run(state: State, workspace_id: str, experiment: str, run_id: str, body: dict[str, Any]) -> dict[str, Any]:
    """Create or update a run (CreateRunDto); what the body leaves out keeps its value."""
    exp = _require_experiment(state, workspace_id, experiment)
    rid = f"{exp['id']}/{RUNS}/{run_id}"
    run = state.store.get(rid) or {"id": rid, "type": RUN_TYPE, "runId": run_id, "experimentId": exp["experimentId"], "status": "NotStarted",
                                   "properties": {}, "tags": {}, "createdUtc": state.clock.iso()}
    status = (body or {}).get("status")
    if status is not None and status not in STATUSES:
        raise bad_request(f"Run status '{status}' is not one of {list(STATUSES)}.", "UserError")
    for key in ("status", "target", "displayName", "description"):
        if key in (body or {}):
            run[key] = body[key]
    run["properties"] = {**run["properties"], **((body or {}).get("properties") or {})}
    run["tags"] = {**run["tags"], **((body or {}).get("tags") or {})}
    if run["status"] in TERMINAL:
        run.setdefault("endTimeUtc", state.clock.iso())
    return state.store.put(run)


def run_view(run: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in run.items() if k not in ("id", "type")}


def get_run(state: State, workspace_id: str, experiment: str, run_id: str) -> dict[str, Any]:
    exp = _require_experiment(state, workspace_id, experiment)
    found = state.store.get(f"{exp['id']}/{RUNS}/{run_id}")
    if found is None:
        raise ArmError(404, "UserError", f"Run '{run_id}' was not found in experiment '{experiment}'.")
    return found


def _matches(run: dict[str, Any], query: str) -> bool:
    props = run["properties"]
    terms = _HAS_PROPERTY.findall(query), _PROPERTY_EQ.findall(query), _STATUS_EQ.findall(query)
    has, equal, status = terms
    if query.strip() and not any(terms):
        raise bad_request(f"The filter '{query}' is not supported.", "UserError")
    return all(k in props for k in has) and all(str(props.get(k)) == v for k, v in equal) and all(run["status"] == s for s in status)


def _page(items: list[dict[str, Any]], body: dict[str, Any]) -> dict[str, Any]:
    """A page of a query, with the continuation token the next query body carries."""
    start = int((body or {}).get("continuationToken") or 0)
    size = int((body or {}).get("top") or PAGE)
    chunk = items[start : start + size]
    nxt = start + size
    return {"value": chunk, "continuationToken": str(nxt) if nxt < len(items) else None}


def query_experiments(state: State, workspace_id: str, body: dict[str, Any]) -> dict[str, Any]:
    workspace = require_workspace(state, workspace_id)
    return _page([experiment_view(e) for e in state.store.children(workspace["id"], EXPERIMENTS)], body)


def query_runs(state: State, workspace_id: str, experiment: str, body: dict[str, Any]) -> dict[str, Any]:
    exp = _require_experiment(state, workspace_id, experiment)
    query = (body or {}).get("filter") or ""
    return _page([run_view(r) for r in state.store.children(exp["id"], RUNS) if _matches(r, query)], body)


def running_profile_runs(state: State, workspace_id: str) -> list[str]:
    """Dataset profile runs not yet in a terminal state: what the move documentation calls running data profiling jobs."""
    found = []
    for exp in state.store.children(workspace_id, EXPERIMENTS):
        found += [r["runId"] for r in state.store.children(exp["id"], RUNS) if PROFILE_ACTION in r["properties"] and r["status"] not in TERMINAL]
    return sorted(found)
