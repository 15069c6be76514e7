"""From a deployment, an approval suspends (no process held) and the resumed run starts again from the top."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from amlops.azure import network
from amlops.models import ResourceId
from app.cli import main as cli
from tests.conftest import WS_ID, Env, demo_scenario
from tests.flows.runs import history, served, start_run, wait_for

PARTNER = "/subscriptions/44444444-4444-4444-4444-444444444444/resourceGroups/partner/providers/Microsoft.Network/privateEndpoints/pe-partner"
SERVE = "from flows.approve_private_endpoints import approve_private_endpoints as f; f.serve(name='suspending', pause_on_shutdown=False)"


def test_a_deployment_run_suspends_and_resumes_from_the_top(flows_env: Env, prefect_server: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = demo_scenario()
    spec["workspaces"][0]["private_endpoint_connections"].append({"name": "partner-1", "private_endpoint": PARTNER, "status": "Pending"})
    flows_env.control.load(spec)
    env = {**os.environ, "PREFECT_API_URL": prefect_server, "PREFECT_RUNNER_POLL_FREQUENCY": "1"}
    log = tmp_path / "runner.log"
    with served(SERVE, env, log):
        run = start_run("approve-private-endpoints/suspending", {"workspace": WS_ID, "poll_seconds": 1}, log, within=60)
        wait_for(run.id, {"Suspended"}, log, timeout=90)  # a deployment run suspends instead of holding its process
        mark = flows_env.control.mark()
        assert flows_env.control.writes() == [], "nothing was decided before the person answered"

        assert cli(["pending"]) == 0
        out = capsys.readouterr().out
        assert str(run.id) in out and "partner-1" in out, out
        assert cli(["approve", str(run.id), "--approver", "erin", "--reason", "INC-9", "--decide", "partner-1=approve"]) == 0

        assert wait_for(run.id, {"Completed", "Failed", "Crashed"}, log) == "Completed"
    status = {c.name: c.status for c in network.list_connections(flows_env.clients, ResourceId.parse(WS_ID))}
    assert status["partner-1"] == "Approved"
    states = history(run.id)
    suspended = states.index("Suspended")
    assert states[:suspended].count("Running") == 1 and states[suspended:].count("Running") == 1, f"run again from the top after the suspension: {states}"
    after = flows_env.control.requests(mark)
    assert any(r["method"] == "GET" and r["path"].endswith("/privateEndpointConnections") for r in after), "the resumed run read the connections again, from the top"
    writes = [(r["method"], r["path"].rsplit("/", 1)[-1]) for r in flows_env.control.writes(mark)]
    assert writes == [("PUT", "partner-1")], "the answered pause was not asked again and each decision was acted on once"
