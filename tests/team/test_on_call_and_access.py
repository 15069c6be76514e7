"""On-call hears, through the Prefect blocks it chose, about runs waiting for a person and runs that failed; the
team's server refuses whoever lacks its credentials."""

from __future__ import annotations

import json
import os
import signal
import ssl
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from amlops.emulator.certs import make_certificate
from tests.conftest import AZURITE_KEY, SUB, TARGET_SUB, WS_ID, Env, demo_scenario
from tests.team.conftest import AUTH, FINAL, ROOT, Team
from tests.team.test_workers import FLEET_SUB, FLEET_WS, _instance

PARTNER = "/subscriptions/44444444-4444-4444-4444-444444444444/resourceGroups/partner/providers/Microsoft.Network/privateEndpoints/pe-partner"


class Receiver:
    """A local HTTP(S) endpoint standing in for Teams, a webhook relay, a custom endpoint: every POST it got."""

    def __init__(self, tls_dir: Path | None = None) -> None:
        self.received: list[tuple[str, Any]] = []
        got = self.received

        class Hook(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                got.append((self.path, json.loads(body)))
                self.send_response(202 if "workflows" in self.path else 204)  # Power Automate accepts with 202
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
        scheme = "http"
        if tls_dir is not None:
            cert, key = make_certificate(tls_dir)
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(cert, key)
            self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
            scheme = "https"
        self.base = f"{scheme}://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait(self, path: str, about: str, timeout: float = 90) -> Any:
        """The first body POSTed to ``path`` that mentions ``about`` (a run id)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for got, body in list(self.received):
                if got.startswith(path) and about in json.dumps(body):
                    return body
            time.sleep(0.3)
        raise AssertionError(f"nothing about {about} reached {path}; got {[(p, json.dumps(b)[:300]) for p, b in self.received]}")


@pytest.fixture
def receivers(tmp_path: Path) -> Iterator[tuple[Receiver, Receiver]]:
    plain, tls = Receiver(), Receiver(tmp_path)
    try:
        yield plain, tls
    finally:
        plain.server.shutdown()
        tls.server.shutdown()


SECRETS = {name: f"{name}-{uuid.uuid4().hex}" for name in ("hook", "custom", "teams")}  # what each URL holds that nobody may read back


def _channels(team: Team, plain: Receiver, tls: Receiver) -> dict[str, str]:
    """The blocks on-call chose, made the way an operator makes them (here from Python, in a team member's shell)."""
    teams = f"{tls.base}/workflows/oncall/triggers/manual/paths/invoke?api-version=2016-06-01&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig={SECRETS['teams']}&verify=no"
    script = (
        "from prefect.blocks.notifications import CustomWebhookNotificationBlock, MicrosoftTeamsWebhook\n"
        f"CustomWebhookNotificationBlock(name='on-call', url='{plain.base}/custom/{{{{token}}}}', secrets={{'token': '{SECRETS['custom']}'}}, json_data={{'title': '{{{{subject}}}}', 'text': '{{{{body}}}}'}}, allow_private_urls=True).save('on-call-custom', overwrite=True)\n"
        f"MicrosoftTeamsWebhook(url='{teams}', allow_private_urls=True).save('on-call-teams', overwrite=True)\n"
    )
    team.run(sys.executable, "-c", script)
    return {"webhook": f"{plain.base}/hook/{SECRETS['hook']}", "custom": "custom-webhook/on-call-custom", "teams": "ms-teams-webhook/on-call-teams"}


def _teams_card(body: Any) -> str:
    """The text of a Power Automate (Teams Workflows) message, checked to be the Adaptive Card it must be."""
    assert body["type"] == "message" and body["attachments"][0]["contentType"] == "application/vnd.microsoft.card.adaptive", body
    card = body["attachments"][0]["content"]
    assert card["type"] == "AdaptiveCard" and card["body"], card
    return json.dumps(card)


def _heard(plain: Receiver, tls: Receiver, run: str, deployed: Team) -> tuple[dict[str, Any], dict[str, Any], str]:
    """What each channel got about this run: the webhook's JSON, the custom block's body, the Teams card's text."""
    return plain.wait("/hook/", run), plain.wait("/custom/", run), _teams_card(tls.wait("/workflows/", run))


def _cancel(deployed: Team, run: str) -> None:
    deployed.call("POST", f"/flow_runs/{run}/set_state", {"state": {"type": "CANCELLED", "name": "Cancelled"}, "force": True})


def test_on_call_hears_through_the_blocks_it_chose(env: Env, deployed: Team, receivers: tuple[Receiver, Receiver]) -> None:
    """A run waiting for a person (Suspended from a deployment, Paused when run in a terminal), a move that
    failed, a fleet run with a failed instance: each reaches a generic webhook, a custom webhook block and a
    Microsoft Teams block, in each service's shape, with what it waits for and the link; no URL is readable back."""
    plain, tls = receivers
    chosen = _channels(deployed, plain, tls)
    deployed.run(
        sys.executable, "-m", "app.cli", "deploy", "--work-pool", "amlops-pool", "--notify", chosen["custom"], "--notify", chosen["teams"],
        env_extra={"AMLOPS_ON_CALL_WEBHOOK": chosen["webhook"], "AMLOPS_FLEET_SUBSCRIPTIONS": SUB},
    )  # fmt: skip
    automations = deployed.call("POST", "/automations/filter", {})
    assert sorted(a["name"] for a in automations if a["enabled"]) == ["amlops-failed", "amlops-fleet-failures", "amlops-waiting"]
    assert all(len(a["actions"]) == 3 for a in automations), "every automation sends to every channel"
    ui = deployed.api.removesuffix("/api")

    # 1. Suspended: a deployment run of approve-private-endpoints waits for decisions.
    spec = demo_scenario()
    spec["workspaces"][0]["private_endpoint_connections"].append({"name": "partner-1", "private_endpoint": PARTNER, "status": "Pending"})
    env.control.load(spec)
    run = deployed.start_run("approve-private-endpoints", "on-demand", {"workspace": WS_ID, "poll_seconds": 1})
    try:
        assert deployed.wait(run, {"Suspended", *FINAL}) == "Suspended", deployed.worker_logs()[-4000:]
        hook, custom, card = _heard(plain, tls, run, deployed)
    finally:
        _cancel(deployed, run)
    assert (hook["flow"], hook["state"], hook["pause_key"]) == ("approve-private-endpoints", "Suspended", "private-endpoints-1")
    assert "decisions on the new Pending private endpoint connections" in hook["text"] and f"amlops approve {run}" in hook["text"]
    assert hook["url"] == f"{ui}/runs/flow-run/{run}" and hook["url"] in hook["text"]
    assert custom["title"] == "approve-private-endpoints is waiting for a person" and "decisions on the new Pending" in custom["text"] and hook["url"] in custom["text"]
    assert "decisions on the new Pending" in card and hook["url"] in card

    # 2. Paused: the same flow run from a terminal (not from a deployment) pauses in its process instead.
    local = subprocess.Popen([sys.executable, "-m", "app.cli", "approve-endpoints", "--workspace", WS_ID, "--poll", "1", "--timeout", "300"], cwd=ROOT, env=deployed.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)  # fmt: skip
    try:
        paused = _paused_run(deployed)
        hook, custom, card = _heard(plain, tls, paused, deployed)
    finally:
        os.killpg(local.pid, signal.SIGKILL)
        local.wait(30)
    _cancel(deployed, paused)
    assert (hook["flow"], hook["state"], hook["pause_key"]) == ("approve-private-endpoints", "Paused", "private-endpoints-1")
    assert "decisions on the new Pending" in hook["text"] and "is Paused, waiting for a person" in custom["text"] and "is Paused" in card

    # 3. A move that failed: its workspace does not exist.
    missing = WS_ID.replace("ml-prod-ws", "no-such-ws")
    run = deployed.start_run("move-workspace", "on-demand", {"request": {"source": missing, "target_subscription": TARGET_SUB, "target_resource_group": "ml-moved"}})
    assert deployed.wait(run, FINAL) in {"Failed", "Crashed"}
    hook, custom, card = _heard(plain, tls, run, deployed)
    assert hook["flow"] == "move-workspace" and hook["state"] in {"Failed", "Crashed"} and "ended" in hook["text"]
    assert custom["title"] == f"move-workspace {hook['state']}" and "no-such-ws" in custom["text"] and "no-such-ws" in card

    # 4. A fleet run with a failed instance: it completes, and on-call hears which instance failed and why.
    env.control.load({
        "subscriptions": [{"id": FLEET_SUB, "region": "eastus"}],
        "resource_groups": [{"id": f"/subscriptions/{FLEET_SUB}/resourceGroups/fleet", "location": "eastus"}],
        "workspaces": [{"id": str(FLEET_WS), "location": "eastus", "computes": [_instance("w-ann"), _instance("w-ben")]}],
    })  # fmt: skip
    env.control.fault("/computes/w-ann/stop$", "500", method="POST")
    run = deployed.start_run("stop-computes", "weekdays-berlin-stop", {"selector": {"subscriptions": [FLEET_SUB]}})
    assert deployed.wait(run, FINAL) == "Completed", deployed.worker_logs()[-4000:]
    hook, custom, card = _heard(plain, tls, run, deployed)
    assert hook["flow"] == "stop-computes" and "1 failed instance(s): w-ann in team-w (" in hook["text"] and "InternalServerError" in hook["text"]
    assert custom["title"] == "stop-computes: instances failed" and "w-ann in team-w" in custom["text"] and "w-ann in team-w" in card

    _nothing_reads_back_a_secret(deployed)


def _paused_run(deployed: Team, timeout: float = 120) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = deployed.call("POST", "/flow_runs/filter", {"flow_runs": {"state": {"name": {"any_": ["Paused"]}}}, "limit": 10, "offset": 0})
        if found:
            assert found[0]["deployment_id"] is None, "run from a terminal, not a deployment"
            return str(found[0]["id"])
        time.sleep(0.5)
    raise AssertionError("the run from the terminal never paused")


def _nothing_reads_back_a_secret(deployed: Team) -> None:
    """The channels' URLs and the state key reach no block document, log, artifact, run parameter or persisted result."""
    secrets = [*SECRETS.values(), AZURITE_KEY]
    seen = {
        "block documents": deployed.call("POST", "/block_documents/filter", {}),
        "logs": deployed.call("POST", "/logs/filter", {"limit": 200, "offset": 0}),
        "artifacts": deployed.call("POST", "/artifacts/filter", {"limit": 200, "offset": 0}),
        "flow runs (parameters)": deployed.call("POST", "/flow_runs/filter", {"limit": 200, "offset": 0}),
        "automations": deployed.call("POST", "/automations/filter", {}),
    }
    for where, found in seen.items():
        text = json.dumps(found)
        assert found and not [s for s in secrets if s in text], f"a secret is readable in the {where}"
    client_home = Path(deployed.env["PREFECT_HOME"])
    stored = [p for p in client_home.rglob("*") if p.is_file()] + [deployed.stack.home / f"{w}.log" for w in deployed.workers]
    assert not [str(p) for p in stored if any(s in p.read_text(errors="replace") for s in secrets)], "persisted results and worker output hold no secret"


def test_the_team_server_refuses_calls_without_its_credentials(team: Team) -> None:
    assert httpx.get(f"{team.api}/health", timeout=10).status_code == 200, "health stays open for probes"
    assert httpx.post(f"{team.api}/flow_runs/filter", json={}, timeout=10).status_code == 401
    assert httpx.post(f"{team.api}/flow_runs/filter", json={}, auth=("team", "wrong"), timeout=10).status_code == 401
    user, password = AUTH.split(":", 1)
    assert httpx.post(f"{team.api}/flow_runs/filter", json={}, auth=(user, password), timeout=10).status_code == 200
    anonymous = {k: v for k, v in team.env.items() if k != "PREFECT_API_AUTH_STRING"}
    refused = subprocess.run([sys.executable, "-m", "app.cli", "pending"], env=anonymous, capture_output=True, text=True, timeout=120)
    assert refused.returncode != 0 and "401" in refused.stdout + refused.stderr
