"""On-call hears about a run waiting for a person; the team's server refuses whoever lacks its credentials."""

from __future__ import annotations

import json
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from tests.conftest import SUB, WS_ID, Env, demo_scenario
from tests.team.conftest import AUTH, FINAL, Team

PARTNER = "/subscriptions/44444444-4444-4444-4444-444444444444/resourceGroups/partner/providers/Microsoft.Network/privateEndpoints/pe-partner"


@pytest.fixture
def receiver() -> Iterator[tuple[str, queue.Queue[dict[str, Any]]]]:
    """A local HTTP endpoint standing in for the Teams/Slack webhook."""
    received: queue.Queue[dict[str, Any]] = queue.Queue()

    class Hook(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            received.put(json.loads(body))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hook", received
    finally:
        server.shutdown()


def test_on_call_gets_a_message_when_a_run_waits_for_a_person(env: Env, deployed: Team, receiver: tuple[str, queue.Queue[dict[str, Any]]]) -> None:
    url, received = receiver
    deployed.run(sys.executable, "-m", "app.cli", "deploy", "--work-pool", "amlops-pool", env_extra={"AMLOPS_ON_CALL_WEBHOOK": url, "AMLOPS_FLEET_SUBSCRIPTIONS": SUB})
    assert deployed.call("GET", "/variables/name/amlops_fleet_subscriptions")["value"] == [SUB], "the same variable prefect.yaml reads"
    stop = deployed.deployment("stop-computes", "weekdays-berlin-stop")
    assert stop["entrypoint"] == "flows/compute_power.py:stop_computes", "an entrypoint a worker can load, as in prefect.yaml"
    automations = deployed.call("POST", "/automations/filter", {})
    assert [a["name"] for a in automations if a["enabled"]] == ["amlops-on-call"]
    assert url not in json.dumps(deployed.call("POST", "/block_documents/filter", {})), "the webhook URL is stored as a secret"

    spec = demo_scenario()
    spec["workspaces"][0]["private_endpoint_connections"].append({"name": "partner-1", "private_endpoint": PARTNER, "status": "Pending"})
    env.control.load(spec)
    run = deployed.start_run("approve-private-endpoints", "on-demand", {"workspace": WS_ID, "poll_seconds": 1})
    try:
        assert deployed.wait(run, {"Suspended", *FINAL}) == "Suspended", deployed.worker_logs()[-4000:]
        deadline = time.monotonic() + 90
        while True:
            try:
                message = received.get(timeout=1)
            except queue.Empty:
                assert time.monotonic() < deadline, "no message reached the on-call webhook"
                continue
            if message["flow_run_id"] == run:
                break
        assert message["flow"] == "approve-private-endpoints" and message["state"] == "Suspended"
        assert "decisions on the new Pending private endpoint connections" in message["text"], message["text"]
        assert f"amlops approve {run}" in message["text"] and "waiting for a person" in message["text"]
        assert message["url"] == f"{deployed.api.removesuffix('/api')}/runs/flow-run/{run}" and message["url"] in message["text"]
    finally:
        deployed.call("POST", f"/flow_runs/{run}/set_state", {"state": {"type": "CANCELLED", "name": "Cancelled"}, "force": True})


def test_the_team_server_refuses_calls_without_its_credentials(team: Team) -> None:
    assert httpx.get(f"{team.api}/health", timeout=10).status_code == 200, "health stays open for probes"
    assert httpx.post(f"{team.api}/flow_runs/filter", json={}, timeout=10).status_code == 401
    assert httpx.post(f"{team.api}/flow_runs/filter", json={}, auth=("team", "wrong"), timeout=10).status_code == 401
    user, password = AUTH.split(":", 1)
    assert httpx.post(f"{team.api}/flow_runs/filter", json={}, auth=(user, password), timeout=10).status_code == 200
    anonymous = {k: v for k, v in team.env.items() if k != "PREFECT_API_AUTH_STRING"}
    refused = subprocess.run([sys.executable, "-m", "app.cli", "pending"], env=anonymous, capture_output=True, text=True, timeout=120)
    assert refused.returncode != 0 and "401" in refused.stdout + refused.stderr
