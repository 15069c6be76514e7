"""A move that must not strand a workspace: each way it used to, judged from the emulator's state and log."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from amlops.azure import computes, network, workspaces
from amlops.manifests import LocalManifestStore
from amlops.models import ResourceId
from flows.move_workspace import move_workspace
from tests import chaos
from tests.conftest import TARGET_SUB, WS_ID, Env, demo_scenario
from tests.flows.conftest import move_args
from tests.warm_cli import WarmCli

SOURCE = ResourceId.parse(WS_ID)
TARGET = SOURCE.moved_to(TARGET_SUB, "ml-moved")


def _run(**changes: Any) -> Any:
    state = move_workspace(**move_args(**changes), return_state=True)
    return state, state.result(raise_on_failure=False)


def _manifest(tmp_path: Path) -> dict[str, Any]:
    [path] = (tmp_path / "state" / "moves").glob("*/manifest.json")
    return json.loads(path.read_text())


def _move_posts(env: Env) -> list[dict[str, Any]]:
    return [r for r in env.control.requests() if r["method"] == "POST" and r["path"].lower().endswith("/moveresources")]


def test_killed_while_azure_moves_resumes_by_following_the_move_not_restoring(flows_env: Env, warm_amlops: WarmCli, tmp_path: Path) -> None:
    """The stranding of old: killed inside moveResources, the next run re-sent it, was refused (locked), 'restored'
    the source (refused too) and lost the workspace. Now it follows Azure's operation and rebuilds in the target."""
    flows_env.load_demo()
    flows_env.control.settings(lro={"default": {"mode": "immediate"}, "move": {"mode": "seconds", "seconds": 6}})
    launcher = chaos.Launcher(cli=warm_amlops)
    state_dir = tmp_path / "state"
    try:
        proc = launcher.start(state_dir, tmp_path / "run.log")
        deadline = time.monotonic() + 120
        while not (state_dir.exists() and any(json.loads(p.read_text()).get("move_operation") for p in state_dir.glob("moves/*/manifest.json"))):
            if proc.poll() is not None:
                launcher.finish(proc)
                raise AssertionError(f"the run ended before Azure accepted the move:\n{(tmp_path / 'run.log').read_text()[-3000:]}")
            assert time.monotonic() < deadline, "the move was never sent"
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        workspaces.get_workspace(flows_env.clients, SOURCE)  # killed mid-move: Azure is still moving it
        mark = flows_env.control.mark()
        code = launcher.finish(launcher.start(state_dir, tmp_path / "run.log"))
    finally:
        launcher.close()
    assert code == 0, (tmp_path / "run.log").read_text()[-3000:]
    assert len(_move_posts(flows_env)) == 1, "moveResources was sent once, never again after the kill"
    source_writes = [w for w in flows_env.control.writes(mark) if "/resourcegroups/ml-prod/" in w["path"].lower()]
    assert source_writes == [], f"nothing was restored into the source: {source_writes}"
    assert sorted(c.name for c in computes.list_computes(flows_env.clients, TARGET)) == ["aks-attached", "alice-ci", "bob-ci", "gpu-cluster"]


def test_a_move_azure_fails_restores_the_source_and_the_next_run_plans_afresh(flows_env: Env, tmp_path: Path) -> None:
    flows_env.load_demo()
    flows_env.control.fault("/moveResources$", "lro_failed", method="POST", code="ResourceMoveFailed", message="The move failed (Azure).", count=1)
    state, error = _run()
    assert state.is_failed() and "ResourceMoveFailed" in str(error)
    assert sorted(c.name for c in computes.list_computes(flows_env.clients, SOURCE)) == ["aks-attached", "alice-ci", "bob-ci", "gpu-cluster"]
    assert _manifest(tmp_path)["status"] == "restored"
    state, report = _run()
    assert state.is_completed(), report
    assert len(_move_posts(flows_env)) == 2 and _manifest(tmp_path)["status"] == "completed"


def test_a_compute_that_failed_to_come_back_is_not_done_and_the_next_run_builds_it(flows_env: Env, tmp_path: Path) -> None:
    flows_env.load_demo()
    flows_env.control.fault("workspaces/ml-prod-ws/computes/alice-ci$", "lro_failed", method="PUT", code="InternalOperationError", count=50)
    state, error = _run()
    assert state.is_failed() and "alice-ci" in str(error) and getattr(error, "code", "") == "MoveIncomplete"
    manifest = _manifest(tmp_path)
    assert "recreate_compute" not in manifest["steps_done"]
    assert sorted(manifest["items_done"]["recreate_compute"]) == ["aks-attached", "bob-ci", "gpu-cluster"]
    flows_env.control.clear_faults()
    state, report = _run()
    assert state.is_completed(), report
    alice = computes.get_compute(flows_env.clients, TARGET, "alice-ci")
    assert alice.provisioning_state == "Succeeded"


def test_a_stopped_instance_comes_back_stopped(flows_env: Env) -> None:
    flows_env.load_demo()
    assert computes.get_compute(flows_env.clients, SOURCE, "bob-ci").state == "Stopped"
    state, report = _run()
    assert state.is_completed(), report
    assert computes.get_compute(flows_env.clients, TARGET, "bob-ci").state == "Stopped", "not left running and billing"
    assert computes.get_compute(flows_env.clients, TARGET, "alice-ci").state == "Running"


@pytest.mark.parametrize("lost", ["drop_after", "drop"], ids=["answer-lost-after-azure-stopped-it", "dropped-before-azure-saw-it"])
def test_a_restored_instances_lost_stop_is_settled_by_what_azure_shows(flows_env: Env, lost: str) -> None:
    """The stop of an instance that was Stopped before the move loses its answer: the move looks before sending it
    again (Azure took it: once; Azure never saw it: twice) and the instance ends Stopped, the run completed."""
    flows_env.load_demo()
    flows_env.control.fault(r"/resourceGroups/ml-moved/.*/computes/bob-ci/stop$", lost, method="POST", count=1)
    state, report = _run()
    assert state.is_completed(), report
    assert computes.get_compute(flows_env.clients, TARGET, "bob-ci").state == "Stopped", "not left running and billing"
    stops = [r for r in flows_env.control.requests() if r["method"] == "POST" and r["path"].lower().endswith("/computes/bob-ci/stop")]
    assert len(stops) == (1 if lost == "drop_after" else 2), [(r["path"], r["status"]) for r in stops]


def test_missing_endpoint_metrics_refuse_the_move_unless_overridden(flows_env: Env, tmp_path: Path) -> None:
    flows_env.load_demo()
    flows_env.control.settings(endpoints_without_metrics=[f"{WS_ID}/onlineEndpoints/forecast-api"])
    mark = flows_env.control.mark()
    state, error = _run()
    assert state.is_failed() and "EndpointMetricsMissing" in str(error) and "--allow-missing-metrics" in str(error)
    assert flows_env.control.writes(mark) == [], "refused before any write"
    state, report = _run(allow_missing_metrics=True)
    assert state.is_completed(), report
    assert _manifest(tmp_path)["request"]["allow_missing_metrics"] is True, "the override is on record"


def test_jobs_and_what_else_refuses_a_move_are_read_again_right_before_the_move(flows_env: Env) -> None:
    flows_env.load_demo()
    state, report = _run()
    assert state.is_completed(), report
    log = flows_env.control.requests()
    move_at = next(i for i, r in enumerate(log) if r["path"].lower().endswith("/moveresources"))
    last_delete = max(i for i, r in enumerate(log[:move_at]) if r["method"] == "DELETE")
    job_reads = [r for r in log[last_delete:move_at] if r["method"] == "GET" and r["path"].lower().endswith("/jobs")]
    assert job_reads, "after the teardown and before moveResources, the jobs were listed again"
    reads = {r["path"].rsplit("/", 1)[-1] for r in log[last_delete:move_at]}
    assert {"labelingJobs", "services", "experiments:query"} <= reads, "labeling projects, web services and profiling runs too"


def test_a_connection_rejected_before_the_move_is_not_approved_by_policy(flows_env: Env, tmp_path: Path) -> None:
    spec = demo_scenario()
    spec["workspaces"][0]["private_endpoint_connections"][1]["status"] = "Rejected"
    flows_env.control.load(spec)
    state, error = _run()
    assert state.is_failed() and getattr(error, "code", "") == "MoveIncomplete"
    assert "was Rejected before the move" in str(error)
    live = {c.private_endpoint_id.rsplit("/", 1)[-1]: c.status for c in network.list_connections(flows_env.clients, TARGET) if c.status != "Disconnected"}
    assert live == {"pe-aml-hub": "Approved", "pe-aml-analytics": "Pending"}, "the policy flag approved only what was approved before"


def test_the_lock_is_held_from_before_the_approval_wait(flows_env: Env, tmp_path: Path) -> None:
    """A second run while the first waits for a person is refused: the lock is taken before the plan is shown."""
    flows_env.load_demo()
    store = LocalManifestStore(tmp_path / "state")
    proc = subprocess.Popen(["sleep", "60"])  # a live holder on this host
    try:
        store.acquire(WS_ID, "another", "run-waiting-for-approval")
        lock = store._lock_path(WS_ID)
        lock.write_text(json.dumps({**json.loads(lock.read_text()), "pid": proc.pid}))
        mark = flows_env.control.mark()
        state, error = _run(approve_plan_as=None, confirm_workspace=None, timeout_seconds=5)
        assert state.is_failed() and "already being moved" in str(error)
        assert flows_env.control.writes(mark) == []
    finally:
        proc.kill()
        proc.wait()
