"""A whole move through a served deployment: it suspends at the plan, is resumed from the terminal, suspends
again at the private endpoints, is resumed, and completes. Each suspension frees the process; each resume
runs the flow again from the top, and each keyed pause hands back its own answer, not the other's."""

from __future__ import annotations

import os
from pathlib import Path
from uuid import UUID

from amlops.azure import computes, network, workspaces
from app.cli import main as cli
from flows import pauses
from tests.chaos import SOURCE, TARGET
from tests.conftest import TARGET_SUB, Env
from tests.flows.runs import served, start_run, wait_for

SERVE = "from flows.move_workspace import move_workspace as f; f.serve(name='suspending-move', pause_on_shutdown=False)"


def _waiting_for(run_id: UUID) -> pauses.PausedRun:
    return next(r for r in pauses.list_paused() if r.id == str(run_id))


def test_a_move_from_a_deployment_suspends_twice_and_completes(flows_env: Env, prefect_server: str, tmp_path: Path) -> None:
    flows_env.load_demo()
    log = tmp_path / "runner.log"
    env = {**os.environ, "PREFECT_API_URL": prefect_server, "PREFECT_RUNNER_POLL_FREQUENCY": "1", "AMLOPS_STATE_DIR": str(tmp_path / "state")}
    params = {"request": {"source": str(SOURCE), "target_subscription": TARGET_SUB, "target_resource_group": TARGET.resource_group}, "approvals": {"poll_seconds": 1}}
    with served(SERVE, env, log):
        run = start_run("move-workspace/suspending-move", params, log)

        assert wait_for(run.id, {"Suspended", "Failed", "Crashed", "Completed"}, log) == "Suspended", log.read_text()[-3000:]
        plan = _waiting_for(run.id)
        assert "workspace_name" in plan.fields, f"the first question is the plan: {plan.fields}"
        assert flows_env.control.writes() == [], "nothing is written before the plan is approved"
        assert cli(["approve", str(run.id), "--approver", "alice", "--reason", "CHG-1", "--workspace-name", SOURCE.name]) == 0

        # Resumed: the run starts again from the top, moves the workspace, then suspends at the connections.
        assert wait_for(run.id, {"Running"}, log) == "Running"
        assert wait_for(run.id, {"Suspended", "Failed", "Crashed", "Completed"}, log, timeout=240) == "Suspended", log.read_text()[-3000:]
        connections = _waiting_for(run.id)
        titles = sorted(spec["title"] for name, spec in connections.fields.items() if name.startswith("c_"))
        assert len(titles) == 2 and "workspace_name" not in connections.fields, f"the second question is the connections: {connections.fields}"
        workspaces.get_workspace(flows_env.clients, TARGET)  # moved while the first resume ran
        decide = [arg for title in titles for arg in ("--decide", f"{title}=approve")]
        assert cli(["approve", str(run.id), "--approver", "bob", "--reason", "CHG-1", *decide]) == 0

        assert wait_for(run.id, {"Completed", "Failed", "Crashed"}, log, timeout=240) == "Completed", log.read_text()[-3000:]
    status = [c.status for c in network.list_connections(flows_env.clients, TARGET)]
    assert status.count("Approved") == 2
    assert sorted(c.name for c in computes.list_computes(flows_env.clients, TARGET)) == ["aks-attached", "alice-ci", "bob-ci", "gpu-cluster"]
    moves = [r for r in flows_env.control.requests() if r["method"] == "POST" and r["path"].lower().endswith("/moveresources")]
    assert len(moves) == 1, "the workspace was moved once, though the flow ran from the top three times"
