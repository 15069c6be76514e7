"""From a deployment, an approval suspends (no process held) and the resumed run starts again from the top."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from prefect.deployments import run_deployment

from amlops.azure import network
from amlops.models import ResourceId
from app.cli import main as cli
from tests.conftest import WS_ID, Env, demo_scenario

ROOT = Path(__file__).parents[2]
PARTNER = "/subscriptions/44444444-4444-4444-4444-444444444444/resourceGroups/partner/providers/Microsoft.Network/privateEndpoints/pe-partner"
SERVE = "from flows.approve_private_endpoints import approve_private_endpoints as f; f.serve(name='suspending', pause_on_shutdown=False)"


def _state(run_id: object) -> str:
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        state = client.read_flow_run(run_id).state
    return state.name if state else ""


def _history(run_id: object) -> list[str]:
    """The names of the run's states, oldest first, as the Prefect server recorded them."""
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        return [s.name for s in sorted(client.read_flow_run_states(run_id), key=lambda s: s.timestamp)]


def _wait_for(run_id: object, names: set[str], timeout: float = 90) -> str:
    deadline = time.monotonic() + timeout
    while (name := _state(run_id)) not in names:
        assert time.monotonic() < deadline, f"run stayed {name}, expected one of {names}"
        time.sleep(0.5)
    return name


def test_a_deployment_run_suspends_and_resumes_from_the_top(flows_env: Env, prefect_server: str, tmp_path: Path, capsys: object) -> None:
    spec = demo_scenario()
    spec["workspaces"][0]["private_endpoint_connections"].append({"name": "partner-1", "private_endpoint": PARTNER, "status": "Pending"})
    flows_env.control.load(spec)
    env = {**os.environ, "PREFECT_API_URL": prefect_server, "PREFECT_RUNNER_POLL_FREQUENCY": "1"}
    runner = subprocess.Popen([sys.executable, "-c", SERVE], cwd=ROOT, env=env, stdout=open(tmp_path / "runner.log", "w"), stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                run = run_deployment("approve-private-endpoints/suspending", parameters={"workspace": WS_ID, "poll_seconds": 1}, timeout=0)
                break
            except Exception:  # noqa: BLE001 - the deployment appears once the runner has registered it
                assert time.monotonic() < deadline, (tmp_path / "runner.log").read_text()[-2000:]
                time.sleep(1)
        _wait_for(run.id, {"Suspended"})  # a deployment run suspends instead of holding its process
        mark = flows_env.control.mark()
        assert flows_env.control.writes() == [], "nothing was decided before the person answered"

        assert cli(["pending"]) == 0
        out = capsys.readouterr().out  # type: ignore[attr-defined]
        assert str(run.id) in out and "partner-1" in out, out
        assert cli(["approve", str(run.id), "--approver", "erin", "--reason", "INC-9", "--decide", "partner-1=approve"]) == 0

        assert _wait_for(run.id, {"Completed", "Failed", "Crashed"}, timeout=120) == "Completed", (tmp_path / "runner.log").read_text()[-3000:]
    finally:
        runner.terminate()
        runner.wait(timeout=30)
    status = {c.name: c.status for c in network.list_connections(flows_env.clients, ResourceId.parse(WS_ID))}
    assert status["partner-1"] == "Approved"
    states = _history(run.id)
    suspended = states.index("Suspended")
    assert states[:suspended].count("Running") == 1 and states[suspended:].count("Running") == 1, f"run again from the top after the suspension: {states}"
    after = flows_env.control.requests(mark)
    assert any(r["method"] == "GET" and r["path"].endswith("/privateEndpointConnections") for r in after), "the resumed run read the connections again, from the top"
    writes = [(r["method"], r["path"].rsplit("/", 1)[-1]) for r in flows_env.control.writes(mark)]
    assert writes == [("PUT", "partner-1")], "the answered pause was not asked again and each decision was acted on once"
