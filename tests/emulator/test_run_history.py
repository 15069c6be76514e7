"""Azure ML's v1 run history as azureml-core calls it (its generated Run History client: experiments:query,
runs:query with its OData filters, PATCH a run), and data profiling runs found through it: the move documentation
lists running data profiling jobs among the scenarios a move does not support."""

from __future__ import annotations

import pytest

from amlops.azure import moves, profiling, rest
from amlops.errors import InvalidInput, MoveValidationFailed
from amlops.models import ResourceId
from tests.conftest import SUB, TARGET_SUB, WS_ID, Env, demo_scenario

HISTORY = f"/history/v1.0{WS_ID}"
RG = f"/subscriptions/{SUB}/resourceGroups/ml-prod"
WS = ResourceId.parse(WS_ID)


def _send(env: Env, method: str, path: str, body: dict | None = None) -> dict:
    return rest.ml_data_plane(env.clients, WS, f"{HISTORY}{path}", method=method, body=body)


def _profiling_scenario() -> dict:
    spec = demo_scenario()
    spec["resource_groups"].append({"id": f"/subscriptions/{TARGET_SUB}/resourceGroups/ml-moved", "location": "westeurope"})
    spec["workspaces"][0].update(computes=[], online_endpoints=[], experiments=[
        {"name": "profile-sales", "runs": [
            {"runId": "dataset_5f1c", "status": "Running", "properties": {profiling.PROFILE_ACTION: "a-1"}},
            {"runId": "dataset_0a2b", "status": "Completed", "properties": {profiling.PROFILE_ACTION: "a-0"}},
        ]},
        {"name": "train", "runs": [{"runId": "train_1", "status": "Running", "properties": {"azureml.runsource": "azureml.scriptrun"}}]},
    ])
    return spec


def test_running_profile_runs_are_found_and_refuse_validation(env: Env) -> None:
    env.control.load(_profiling_scenario())
    assert profiling.running_profile_runs(env.clients, WS) == ["profile-sales/dataset_5f1c"], "a running training run is not profiling; a completed profile is over"
    with pytest.raises(MoveValidationFailed) as refused:
        moves.validate_move(env.clients, ResourceId.parse(RG), [WS_ID], f"/subscriptions/{TARGET_SUB}/resourceGroups/ml-moved")
    assert {d["code"] for d in refused.value.details} == {"WorkspaceHasRunningDataProfilingJobs"}
    _send(env, "PATCH", "/experiments/profile-sales/runs/dataset_5f1c", {"status": "Canceled"})
    assert profiling.running_profile_runs(env.clients, WS) == []


def test_run_queries_take_azureml_core_filters_and_pages(env: Env) -> None:
    env.load_demo()
    _send(env, "POST", "/experiments/big")
    for i in range(7):
        _send(env, "PATCH", f"/experiments/big/runs/r{i}", {"status": "Running" if i % 2 else "Completed", "properties": {"kind": "odd" if i % 2 else "even"}})
    page = _send(env, "POST", "/experiments/big/runs:query", {"filter": "(Properties/kind eq odd) and (Status eq Running)", "top": 2})
    assert [r["runId"] for r in page["value"]] == ["r1", "r3"] and page["continuationToken"]
    rest_of = _send(env, "POST", "/experiments/big/runs:query", {"filter": "(Properties/kind eq odd) and (Status eq Running)", "top": 2, "continuationToken": page["continuationToken"]})
    assert [r["runId"] for r in rest_of["value"]] == ["r5"] and rest_of["continuationToken"] is None
    assert _send(env, "GET", "/experiments/big/runs/r4")["properties"] == {"kind": "even"}
    with pytest.raises(InvalidInput):
        _send(env, "POST", "/experiments/big/runs:query", {"filter": "startswith(RunId, 'r')"})  # not a form the service takes here
    with pytest.raises(InvalidInput):
        _send(env, "PATCH", "/experiments/big/runs/r0", {"status": "Exploded"})


def test_run_history_queries_count_as_reads_and_ignore_arm_locks(env: Env) -> None:
    env.control.load({**_profiling_scenario(), "locks": [{"scope": RG, "name": "frozen", "level": "ReadOnly"}]})
    mark = env.control.mark()
    assert profiling.running_profile_runs(env.clients, WS) == ["profile-sales/dataset_5f1c"]
    assert env.control.writes(mark) == [], "a query stores nothing"
