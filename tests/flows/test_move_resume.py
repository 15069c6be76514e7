"""A move killed with SIGKILL after each step, then started again with the same parameters, finishes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from amlops.azure import computes, network, workspaces
from amlops.models import ResourceId
from amlops.move import STEPS
from flows.move_workspace import move_workspace
from tests.conftest import TARGET_SUB, WS_ID, Env
from tests.flows.conftest import move_args

ROOT = Path(__file__).parents[2]
TARGET = ResourceId.parse(WS_ID).moved_to(TARGET_SUB, "ml-moved")


def _cli_args() -> list[str]:
    a = move_args()
    return [
        sys.executable, "-m", "amlops.cli", "move", "--source", a["source"], "--target-subscription", a["target_subscription"],
        "--target-resource-group", a["target_resource_group"], "--approve-plan-as", "alice", "--confirm-workspace", "ml-prod-ws",
        "--approve-private-endpoints-as", "alice",
    ]  # fmt: skip


def _steps_done(state_dir: Path) -> list[str]:
    for manifest in (state_dir / "moves").glob("*/manifest.json"):
        try:
            return json.loads(manifest.read_text())["steps_done"]
        except (OSError, ValueError):
            return []
    return []


@pytest.mark.parametrize("killed_after", STEPS[:-1])
def test_killed_after_a_step_resumes_and_finishes(flows_env: Env, prefect_server: str, tmp_path: Path, killed_after: str) -> None:
    flows_env.load_demo()
    # Slow the long-running operations a little (virtual time is real here), so the kill lands mid-move.
    flows_env.control.settings(lro={"default": {"mode": "seconds", "seconds": 0.05}})
    state_dir = tmp_path / "state"
    env = {**os.environ, "AMLOPS_STATE_DIR": str(state_dir), "PREFECT_API_URL": prefect_server, "PREFECT_FLOWS_HEARTBEAT_FREQUENCY": ""}
    env.pop("PREFECT_FLOWS_HEARTBEAT_FREQUENCY")
    proc = subprocess.Popen(_cli_args(), cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=open(tmp_path / "run.log", "w"))
    deadline = time.monotonic() + 120
    try:
        while killed_after not in _steps_done(state_dir):
            assert proc.poll() is None, f"the run ended before step {killed_after} (exit {proc.returncode})"
            assert time.monotonic() < deadline, f"step {killed_after} never completed"
            time.sleep(0.02)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()

    state = move_workspace(**move_args(), return_state=True)
    report = state.result(raise_on_failure=False)
    assert state.is_completed(), f"after a kill following {killed_after}: {report}"
    assert report.status == "completed" and all(c.ok for c in report.checks)
    c = flows_env.clients
    assert workspaces.get_workspace(c, TARGET).id == str(TARGET)
    assert sorted(x.name for x in computes.list_computes(c, TARGET)) == ["aks-attached", "alice-ci", "bob-ci", "gpu-cluster"]
    assert sum(1 for x in network.list_connections(c, TARGET) if x.status == "Approved") == 2
