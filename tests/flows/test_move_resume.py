"""A move killed with SIGKILL after each step, then started again with the same parameters, finishes, and
does not do again what was done: one moveResources, no compute deleted or re-created twice."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path
from typing import Any

import pytest

from amlops.azure import computes, network, workspaces
from amlops.models import ResourceId
from amlops.move import STEPS, Step
from flows.move_workspace import MoveReport, move_workspace
from tests import chaos
from tests.conftest import TARGET_SUB, WS_ID, Env
from tests.flows.conftest import move_args
from tests.warm_cli import WarmCli

TARGET = ResourceId.parse(WS_ID).moved_to(TARGET_SUB, "ml-moved")
# With the plan approved by flag, the quiesce gate runs before the manifest is first written: snapshot and
# quiesce are recorded together, so a kill "after quiesce" is the kill "after snapshot". One case, not two.
KILL_AFTER = [s for s in STEPS[:-1] if s != Step.QUIESCE]


def _steps_done(state_dir: Path) -> list[str]:
    for manifest in (state_dir / "moves").glob("*/manifest.json"):
        try:
            return json.loads(manifest.read_text())["steps_done"]
        except (OSError, ValueError):
            return []
    return []


def _writes(requests: list[dict[str, Any]], method: str, ending: str) -> list[str]:
    return [r["path"] for r in requests if r["method"] == method and r["path"].lower().endswith(ending)]


@pytest.mark.parametrize("killed_after", KILL_AFTER)
def test_killed_after_a_step_resumes_and_finishes(flows_env: Env, warm_amlops: WarmCli, tmp_path: Path, killed_after: Step) -> None:
    flows_env.load_demo()
    # Slow the long-running operations a little (virtual time is real here), so the kill lands mid-move.
    flows_env.control.settings(lro={"default": {"mode": "seconds", "seconds": 0.05}})
    state_dir = tmp_path / "state"
    launcher = chaos.Launcher(cli=warm_amlops)
    try:
        proc = launcher.start(state_dir, tmp_path / "run.log")
        deadline = time.monotonic() + 120
        while killed_after not in _steps_done(state_dir):
            if proc.poll() is not None:
                launcher.finish(proc)
                raise AssertionError(f"the run ended before step {killed_after} (exit {proc.returncode}):\n{(tmp_path / 'run.log').read_text()[-3000:]}")
            assert time.monotonic() < deadline, f"step {killed_after} never completed"
            time.sleep(0.02)
        still_running = proc.poll() is None
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    finally:
        launcher.close()
    assert still_running, f"the run had already ended when it was to be killed after {killed_after}"
    before_restart = flows_env.control.requests()
    mark = len(before_restart)

    state = move_workspace(**move_args(), return_state=True)
    report = state.result(raise_on_failure=False)
    assert state.is_completed() and isinstance(report, MoveReport), f"after a kill following {killed_after}: {report}"
    assert report.status == "completed" and all(c.ok for c in report.checks)
    c = flows_env.clients
    assert workspaces.get_workspace(c, TARGET).id == str(TARGET)
    assert sorted(x.name for x in computes.list_computes(c, TARGET)) == ["aks-attached", "alice-ci", "bob-ci", "gpu-cluster"]
    assert sum(1 for x in network.list_connections(c, TARGET) if x.status == "Approved") == 2

    # The resumed run skipped what was finished: judged from the request log, not from our manifest.
    everything, after = flows_env.control.requests(), flows_env.control.requests(mark)
    # Moved once: one move Azure accepted. A kill can land while the POST is on the wire; the emulator then reads a
    # cut-off body and answers 400 (a request ARM never saw whole), and the resumed run, finding the workspace still
    # in the source, rightly sends it again.
    moves = [r for r in everything if r["method"] == "POST" and r["path"].lower().endswith("/moveresources")]
    assert [r["status"] for r in moves if r["status"] < 400] == [202], f"the workspace was moved once: {[(r['status'], r['kind']) for r in moves]}"
    done = STEPS[: STEPS.index(killed_after) + 1]
    if Step.DELETE_COMPUTE in done:
        again = [p for p in _writes(after, "DELETE", "") if "/resourcegroups/ml-prod/" in p.lower() and "/computes/" in p.lower()]
        assert not again, f"no compute deleted again: {again}"
    if Step.MOVE in done:  # (before the move, validation is repeated on purpose: it checks the moment of sending)
        assert not _writes(after, "POST", "/validatemoveresources"), "no validation after the move"
    if Step.RECREATE_COMPUTE in done:
        assert not [p for p in _writes(after, "PUT", "") if "/computes/" in p.lower()], "no compute re-created again"
