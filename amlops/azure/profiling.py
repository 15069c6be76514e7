"""Running data profiling jobs of a workspace, which the workspace-move documentation lists among the unsupported
scenarios. Azure exposes them only through the v1 run history: a dataset profile run is a run whose properties
carry ``_azureml.DatasetActionId`` (azureml-core: ``azureml/data/_dataset_profile_run.py``, ``constants.py``).
The run history has no workspace-wide run query, so each experiment's runs are queried
(``experiments:query``, then ``experiments/{name}/runs:query`` with the property filter azureml-core writes)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

from amlops.azure import rest
from amlops.azure.clients import Clients
from amlops.azure.retry import Kind
from amlops.models import ResourceId

PROFILE_ACTION = "_azureml.DatasetActionId"
# azureml-core's "has property" filter (_restclient/_odata/constants.py, PROP_EXISTS_FORMAT_STR).
PROFILE_FILTER = f"(Properties/{PROFILE_ACTION} ne null or Properties/{PROFILE_ACTION} eq null)"
TERMINAL = {"Completed", "Failed", "Canceled"}


def _query(clients: Clients, workspace: ResourceId, path: str, filter_: str | None = None) -> Iterator[dict[str, Any]]:
    """Every item of a run history query (QueryParamsDto), following its continuation token."""
    token: str | None = None
    while True:
        body = {"filter": filter_, "continuationToken": token, "top": 500}
        page = rest.ml_data_plane(clients, workspace, path, method="POST", body=body, kind=Kind.READ) or {}  # a query: reads
        yield from page.get("value") or []
        token = page.get("continuationToken")
        if not token:
            return


def running_profile_runs(clients: Clients, workspace: ResourceId) -> list[str]:
    """``experiment/runId`` of each dataset profile run not yet Completed, Failed or Canceled."""
    history = f"/history/v1.0{workspace.require_workspace()}"
    found = []
    for experiment in _query(clients, workspace, f"{history}/experiments:query"):
        name = experiment["name"]
        runs = _query(clients, workspace, f"{history}/experiments/{quote(name, safe='')}/runs:query", PROFILE_FILTER)
        found += [f"{name}/{r['runId']}" for r in runs if r.get("status") not in TERMINAL]
    return sorted(found)
