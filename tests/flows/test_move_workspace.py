"""move-workspace against the emulator and a real Prefect server."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from prefect.logging.handlers import APILogWorker
from prefect.settings import PREFECT_API_URL

from amlops.approvals import AllowList
from amlops.azure import computes, datastores, endpoints, network, roles, workspaces
from amlops.manifests import LocalManifestStore
from amlops.models import ResourceId
from flows.move_workspace import move_workspace
from tests.conftest import SUB, TARGET_SUB, WS_ID, Env, demo_scenario
from tests.flows.conftest import move_args

TARGET = ResourceId.parse(WS_ID).moved_to(TARGET_SUB, "ml-moved")
SECRETS = ("ZGVtby1hY2NvdW50LWtleQ==", "ZGVtbw%3D%3D", "ZW11bGF0b3Ita2V5")


def _run(**changes: Any) -> Any:
    state = move_workspace(**move_args(**changes), return_state=True)
    return state, state.result(raise_on_failure=False)


def _artifacts_and_logs(flow_run_id: Any) -> str:
    """Everything the run left on the Prefect server: artifact data and log lines."""
    APILogWorker.drain_all(timeout=10)  # logs travel in batches; send what is queued before reading
    api = str(PREFECT_API_URL.value())
    texts = []
    for kind, sort in (("artifacts", "CREATED_DESC"), ("logs", "TIMESTAMP_ASC")):
        offset = 0
        while True:
            body = {kind: {"flow_run_id": {"any_": [str(flow_run_id)]}}, "limit": 200, "offset": offset, "sort": sort}
            page = httpx.post(f"{api}/{kind}/filter", json=body, timeout=30).json()
            texts += [json.dumps(item.get("data") if kind == "artifacts" else item["message"], default=str) for item in page]
            if len(page) < 200:
                break
            offset += 200
    return "\n".join(texts)


def test_full_move_rebuilds_everything_and_verifies(flows_env: Env, tmp_path: Path) -> None:
    flows_env.load_demo()
    ws = ResourceId.parse(WS_ID)
    before = {c.name: c.settings() for c in computes.list_computes(flows_env.clients, ws)}
    state, report = _run(private_endpoint_allow_list=AllowList(subscriptions=[SUB]))
    assert state.is_completed(), report
    assert report.status == "completed" and all(c.ok for c in report.checks)

    c = flows_env.clients
    assert {x.name: x.settings() for x in computes.list_computes(c, TARGET)} == before
    [endpoint] = endpoints.list_online_endpoints(c, TARGET)
    assert endpoint.traffic == {"blue": 90, "green": 10}
    assert datastores.get_datastore(c, TARGET, "curated").points_at(TARGET_SUB, "ml-moved")
    assert datastores.read_secrets(c, TARGET, "raw-landing")["sasToken"] == "sv=2024-01-01&sig=ZGVtbw%3D%3D"
    assert datastores.get_datastore(c, TARGET, "shared-reference").points_at(SUB, "ml-prod"), "its storage did not move"
    assert {a.principal_id for a in roles.list_at_scope(c, str(TARGET))} == {"aaaaaaaa-0000-0000-0000-000000000001", "bbbbbbbb-0000-0000-0000-000000000009"}
    live = [x for x in network.list_connections(c, TARGET) if x.status != "Disconnected"]
    assert len(live) == 2 and {x.status for x in live} == {"Approved"}

    manifest_file = LocalManifestStore(tmp_path / "state").path(report.move_id)
    manifest = json.loads(manifest_file.read_text())
    assert manifest["status"] == "completed" and manifest["steps_done"][-1] == "verify"
    via = {d["via"] for d in manifest["decisions"]}
    assert via == {"allow-list", "policy"}, "the hub endpoint by allow-list, the analytics one by the policy flag"
    everything = manifest_file.read_text() + _artifacts_and_logs(state.state_details.flow_run_id)
    assert "Step verify done: 16 of 16 steps" in everything and "Move plan" in everything, "the logs and artifacts were read"
    body = {"artifacts": {"flow_run_id": {"any_": [str(state.state_details.flow_run_id)]}, "type": {"any_": ["progress"]}}}
    progress = httpx.post(f"{PREFECT_API_URL.value()}/artifacts/filter", json=body, timeout=30).json()
    assert [(p["key"], p["data"]) for p in progress] == [("move-progress", 100.0)], "a person watching the UI sees the move's steps come to an end"
    for secret in SECRETS:
        assert secret not in everything, "a secret reached the manifest, an artifact or a log"


def test_dry_run_plans_and_writes_nothing(flows_env: Env) -> None:
    flows_env.load_demo()
    mark = flows_env.control.mark()
    state, report = _run(dry_run=True, approve_plan_as=None, confirm_workspace=None)
    assert state.is_completed() and report.status == "planned"
    plan = report.plan
    assert [c.name for c in plan.computes if c.action == "re-create"] == ["alice-ci", "bob-ci", "gpu-cluster"]
    assert [c.name for c in plan.computes if c.action == "re-attach"] == ["aks-attached"]
    repointed = ["checkpoints", "curated", "raw-landing", "workspaceartifactstore", "workspacefilestore", "workspaceworkingdirectory"]
    assert sorted(d.name for d in plan.datastores if d.action == "re-point") == repointed
    assert ("shared-reference", "keep as it is") in [(d.name, d.action) for d in plan.datastores]
    assert flows_env.control.writes(mark) == []


def _spec(change: Any) -> dict[str, Any]:
    spec = demo_scenario()
    change(spec)
    return spec


def _cmk(spec: dict[str, Any]) -> None:
    spec["workspaces"][0]["properties"]["encryption"] = {"status": "Enabled"}


def _databricks(spec: dict[str, Any]) -> None:
    spec["resources"].append({"id": f"/subscriptions/{SUB}/resourceGroups/ml-prod/providers/Microsoft.Databricks/workspaces/dbw", "location": "westeurope", "properties": {"parameters": {"amlWorkspaceId": {"value": WS_ID}}}})


def _other_tenant(spec: dict[str, Any]) -> None:
    spec["subscriptions"][1]["tenant"] = "99999999-9999-9999-9999-999999999999"


def _unregistered(spec: dict[str, Any]) -> None:
    spec["subscriptions"][1]["providers"] = ["Microsoft.MachineLearningServices"]


def _other_region(spec: dict[str, Any]) -> None:
    spec["resource_groups"].append({"id": f"/subscriptions/{TARGET_SUB}/resourceGroups/ml-moved", "location": "eastus"})


@pytest.mark.parametrize(
    ("change", "args", "says"),
    [
        (None, {"source": "ml-prod-ws"}, "must start with /subscriptions"),
        (None, {"source": WS_ID.replace("ml-prod-ws", "ghost-ws")}, "ghost-ws"),
        (None, {"target_subscription": SUB, "target_resource_group": "ml-prod"}, "workspace's own"),
        (None, {"target_subscription": "not-a-guid"}, "target subscription"),
        (_other_region, {}, "OtherRegion"),
        (_other_tenant, {}, "OtherTenant"),
        (_cmk, {}, "CustomerManagedKey"),
        (_databricks, {}, "DatabricksLink"),
        (_unregistered, {}, "az provider register -n Microsoft.Storage"),
        (None, {"confirm_workspace": "ml-prod"}, "confirmed exactly"),
    ],
    ids=["malformed-id", "unknown-workspace", "target-is-source", "bad-subscription", "other-region", "other-tenant", "cmk", "databricks", "providers", "not-approved"],
)
def test_bad_input_is_refused_before_any_write(flows_env: Env, change: Any, args: dict[str, Any], says: str) -> None:
    flows_env.control.load(_spec(change) if change else demo_scenario())
    mark = flows_env.control.mark()
    state, error = _run(**args)
    assert state.is_failed() and says in str(error)
    assert flows_env.control.writes(mark) == [], "refused, yet something was written"


def test_active_jobs_and_endpoint_traffic_refuse_the_move(flows_env: Env) -> None:
    from amlops.azure import jobs

    flows_env.control.freeze()  # the job stays active however long the run takes to reach the gate
    flows_env.load_demo()
    jobs.submit_command_job(flows_env.clients, ResourceId.parse(WS_ID), "busy-1", "python x.py", "azureml:forecast-env:1", "gpu-cluster")
    flows_env.control.traffic(f"{WS_ID}/onlineEndpoints/forecast-api", 12, seconds_ago=300)
    mark = flows_env.control.mark()
    state, error = _run()
    assert state.is_failed() and "ActiveJobs" in str(error) and "EndpointTraffic" in str(error) and "busy-1" in str(error)
    assert flows_env.control.writes(mark) == []


def test_a_failure_before_the_move_restores_the_source(flows_env: Env, tmp_path: Path) -> None:
    flows_env.load_demo()
    ws = ResourceId.parse(WS_ID)
    before = {c.name: c.settings() for c in computes.list_computes(flows_env.clients, ws)}
    flows_env.control.fault("validateMoveResources", "409", method="POST", count=1)
    state, error = _run()
    assert state.is_failed()
    assert {c.name: c.settings() for c in computes.list_computes(flows_env.clients, ws)} == before
    assert [e.traffic for e in endpoints.list_online_endpoints(flows_env.clients, ws)] == [{"blue": 90, "green": 10}]
    assert workspaces.get_workspace(flows_env.clients, ws).id == WS_ID
    manifests = list((tmp_path / "state" / "moves").glob("*/manifest.json"))
    assert json.loads(manifests[0].read_text())["status"] == "restored"


def test_a_second_move_of_the_same_workspace_is_refused(flows_env: Env, tmp_path: Path) -> None:
    flows_env.load_demo()
    store = LocalManifestStore(tmp_path / "state")
    store.acquire(WS_ID, "other-move", "another-live-run")  # held by this (live) process
    mark = flows_env.control.mark()
    state, error = _run()
    assert state.is_failed() and "already being moved by flow run another-live-run" in str(error)
    assert flows_env.control.writes(mark) == [], "refused, yet something was written"


def test_transient_faults_during_the_move_are_retried(flows_env: Env) -> None:
    flows_env.load_demo()
    flows_env.control.fault("/computes$", "503", method="GET", count=2)
    flows_env.control.fault("/datastores$", "drop", method="GET", count=1)
    state, report = _run()
    assert state.is_completed() and report.status == "completed"
    log = flows_env.control.requests()
    listed = [(r["fault"], r["status"]) for r in log if r["method"] == "GET" and r["path"].endswith("/computes")]
    assert listed[:3] == [("503", 503), ("503", 503), (None, 200)], "each 503 was retried until the list came"
    lists = [(r["fault"], r["status"]) for r in log if r["method"] == "GET" and r["path"].endswith("/datastores")]
    assert lists[:2] == [("drop", 0), (None, 200)], "the dropped read was sent again"


def test_persistent_etag_conflict_leaves_clear_work_for_a_person(flows_env: Env) -> None:
    spec = demo_scenario()
    spec["settings"] = {"etag_conflicts_after_move": 50}
    flows_env.control.load(spec)
    state, error = _run()
    assert state.is_failed() and "left for a person" in str(error)
    assert "re-create compute 'alice-ci'" in str(error)
    assert workspaces.get_workspace(flows_env.clients, TARGET).id == str(TARGET), "the move itself happened"
