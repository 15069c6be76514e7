"""move-workspace's options as the README documents them, the plan-approval timeout, batch endpoints present
during a move, and every decision read back from the Prefect server as a table artifact and a log line."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import httpx
from prefect.logging.handlers import APILogWorker
from prefect.settings import PREFECT_API_URL

from amlops.approvals import AllowList
from amlops.azure import computes, datastores, endpoints
from amlops.models import ResourceId
from flows.move_workspace import move_workspace
from tests.conftest import SUB, TARGET_SUB, WS_ID, Env, demo_scenario
from tests.flows.conftest import move_args
from tests.flows.runs import history

WS = ResourceId.parse(WS_ID)
TARGET = WS.moved_to(TARGET_SUB, "ml-moved")
STORAGE = f"/subscriptions/{SUB}/resourceGroups/ml-prod/providers/Microsoft.Storage/storageAccounts/mlprodstorage"
# Azure's rule for a compute name, as its own error words it: 3 to 24 letters, digits and '-', starting with
# a letter, and no digit right after a final '-' (see microsoftdocs/pipelines-azureml issue 19).
COMPUTE_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9-]{2,23}$")


def _run(**changes: Any) -> tuple[Any, Any]:
    state = move_workspace(**move_args(**changes), return_state=True)
    return state, state.result(raise_on_failure=False)


def _valid_compute_name(name: str) -> bool:
    return bool(COMPUTE_NAME.match(name)) and not re.search(r"-\d$", name)


def _server_record(flow_run_id: Any) -> tuple[dict[str, Any], list[str]]:
    """The run's artifacts (latest per key) and log lines, as the Prefect server holds them."""
    APILogWorker.drain_all(timeout=10)
    api = str(PREFECT_API_URL.value())
    run = {"flow_run_id": {"any_": [str(flow_run_id)]}}
    artifacts: dict[str, Any] = {}
    found = httpx.post(f"{api}/artifacts/filter", json={"artifacts": run, "sort": "CREATED_DESC", "limit": 200}, timeout=30)
    for a in found.raise_for_status().json():
        artifacts.setdefault(a["key"], a)
    lines = httpx.post(f"{api}/logs/filter", json={"logs": run, "sort": "TIMESTAMP_ASC", "limit": 200}, timeout=30)
    logs = [entry["message"] for entry in lines.raise_for_status().json()]
    return artifacts, logs


def _rows(artifact: dict[str, Any]) -> list[dict[str, Any]]:
    data = artifact["data"]
    return json.loads(data) if isinstance(data, str) else data


def test_quiesce_window_sets_how_far_back_traffic_blocks_the_move(flows_env: Env) -> None:
    flows_env.load_demo()
    flows_env.control.traffic(f"{WS_ID}/onlineEndpoints/forecast-api", 40, seconds_ago=90 * 60)
    mark = flows_env.control.mark()
    state, error = _run(quiesce_window_minutes=120)
    assert state.is_failed() and "forecast-api served 40 requests in the last 120 minutes" in str(error)
    assert flows_env.control.writes(mark) == []
    state, report = _run(quiesce_window_minutes=60, dry_run=True)
    assert state.is_completed() and report.status == "planned", "traffic 90 minutes ago is outside a 60-minute window"


def test_plan_approval_timeout_refuses_and_writes_nothing(flows_env: Env) -> None:
    flows_env.load_demo()
    mark = flows_env.control.mark()
    state, error = _run(approve_plan_as=None, confirm_workspace=None, timeout_seconds=2)
    assert state.is_failed() and getattr(error, "code", "") == "PlanNotApproved" and "2 s" in str(error), error
    assert flows_env.control.writes(mark) == []


def test_etag_conflict_that_persists_is_renamed_validly_and_recorded(flows_env: Env, tmp_path: Path) -> None:
    """Policy 'rename': each compute comes back under a new name Azure accepts, with its old settings; the
    rename is recorded in the manifest and left for a person (whatever referred to the old name)."""
    spec = demo_scenario()
    spec["settings"] = {"etag_conflicts_after_move": 50}
    long_name = "data-science-alice-ci01"  # 23 characters: the new name must still fit Azure's 24
    spec["workspaces"][0]["computes"].append({**next(c for c in spec["workspaces"][0]["computes"] if c["name"] == "alice-ci"), "name": long_name})
    flows_env.control.load(spec)
    before = {c.name: c.settings() for c in computes.list_computes(flows_env.clients, WS)}
    state, error = _run(etag_conflict_policy="rename")
    assert state.is_failed() and getattr(error, "code", "") == "MoveIncomplete", error
    [manifest_file] = (tmp_path / "state" / "moves").glob("*/manifest.json")
    renamed = json.loads(manifest_file.read_text())["renamed_computes"]
    assert set(renamed) == set(before), f"every name the workspace had conflicts; renamed: {renamed}"
    after = {c.name: c.settings() for c in computes.list_computes(flows_env.clients, TARGET)}
    for old, new in renamed.items():
        assert new != old and _valid_compute_name(new), f"{old} -> {new}: not a name Azure accepts"
        assert {**after[new], "name": old} == before[old], f"{new} has {old}'s settings"
        assert f"compute '{new}'" in str(error), f"the rename of {old} is left for a person: {error}"


def test_allow_endpoint_no_approval_exclude_associated_and_batch_endpoints(flows_env: Env) -> None:
    """Unattended by design: no plan approval, the new connections approved by an endpoint pattern. The
    storage account stays where it is; a batch endpoint moves with the workspace, untouched."""
    spec = demo_scenario()
    spec["workspaces"][0]["batch_endpoints"] = [{"name": "nightly-scoring", "properties": {"authMode": "AADToken"}}]
    flows_env.control.load(spec)
    args = {"approve_plan_as": None, "confirm_workspace": None, "approve_private_endpoints_as": None}
    allow = AllowList(endpoint_patterns=["*/privateendpoints/pe-aml-*"])
    state, report = _run(**args, require_approval=False, private_endpoint_allow_list=allow, include_associated=False)
    assert state.is_completed(), report
    run_id = state.state_details.flow_run_id
    assert not {"Paused", "Suspended"} & set(history(run_id)), "nobody was asked"

    c = flows_env.clients
    assert [e.name for e in endpoints.list_batch_endpoints(c, TARGET)] == ["nightly-scoring"]
    assert not any(r["method"] in ("PUT", "DELETE") and "/batchEndpoints/" in r["path"] for r in flows_env.control.requests()), "batch endpoints are not touched"
    assert any(r["id"].lower() == STORAGE.lower() for r in flows_env.control.resources()), "the storage account stayed in the source"
    assert datastores.get_datastore(c, TARGET, "curated").points_at(SUB, "ml-prod"), "its datastores still point at the source"

    artifacts, logs = _server_record(run_id)
    decisions = _rows(artifacts["private-endpoint-decisions"])
    assert sorted((d["connection"].split("-")[0], d["verdict"], d["decided_by"], d["via"], d["outcome"]) for d in decisions) == [("pe", "approve", "allow-list", "allow-list", "Approved")] * 2
    for d in decisions:
        assert d["reason"] == "endpoint matches */privateendpoints/pe-aml-*" and d["at"]
        assert f"Connection {d['connection']}: approve by allow-list via allow-list (endpoint matches */privateendpoints/pe-aml-*) -> Approved" in logs
    assert "nightly-scoring" in artifacts["move-plan"]["data"], "the plan says the batch endpoint is not touched"
    assert all(row["ok"] for row in _rows(artifacts["move-verification"]))


def test_no_recreate_compute_and_no_redeploy_endpoints_leave_them_to_a_person(flows_env: Env) -> None:
    flows_env.load_demo()
    state, error = _run(recreate_compute=False, redeploy_endpoints=False)
    assert state.is_failed() and getattr(error, "code", "") == "MoveIncomplete"
    target_writes = [r for r in flows_env.control.requests() if r["method"] == "PUT" and ("/computes/" in r["path"] or "/onlineEndpoints/" in r["path"])]
    assert target_writes == [], "nothing re-created, nothing redeployed"
    for name in ("alice-ci", "bob-ci", "gpu-cluster", "aks-attached"):
        assert f"re-create compute '{name}'" in str(error) and "(recreate_compute was off)" in str(error)
    assert "online endpoint forecast-api" in str(error), error
    assert computes.list_computes(flows_env.clients, TARGET) == []
