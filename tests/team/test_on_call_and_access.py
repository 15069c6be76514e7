"""On-call hears, through the Prefect blocks it chose, about runs waiting for a person and runs that failed; the
team's server refuses whoever lacks its credentials."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import AZURITE_KEY, SUB, TARGET_SUB, WS_ID, Env, demo_scenario
from tests.team.conftest import AUTH, FINAL, ROOT, Team
from tests.team.local_http import LocalServer, first_mentioning, tls_context
from tests.team.services import SENDGRID, SLACK, Services
from tests.team.test_deployments import CLONE_STEPS
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

        self.local = LocalServer(Hook, tls_context(tls_dir)[0] if tls_dir is not None else None)
        self.base = self.local.url

    def wait(self, path: str, about: str, timeout: float = 90) -> Any:
        """The first body POSTed to ``path`` that mentions ``about`` (a run id)."""
        return first_mentioning(self.received, lambda got: got[0].startswith(path), about, path, timeout)


@pytest.fixture
def receivers(tmp_path: Path) -> Iterator[tuple[Receiver, Receiver]]:
    plain, tls = Receiver(), Receiver(tmp_path)
    try:
        yield plain, tls
    finally:
        plain.local.stop()
        tls.local.stop()


SECRETS = {name: f"{name}-{uuid.uuid4().hex}" for name in ("hook", "custom", "teams", "sendgrid")}  # what each URL or key holds that nobody may read back
SLACK_TOKEN = f"T0{uuid.uuid4().hex[:8].upper()}/B0{uuid.uuid4().hex[:8].upper()}/{uuid.uuid4().hex.upper()}"  # Slack's webhook path is its secret


def _channels(team: Team, plain: Receiver, tls: Receiver) -> dict[str, str]:
    """The blocks on-call chose, made the way an operator makes them (here from Python, in a team member's shell):
    Slack's and SendGrid's at their real addresses, which only the stand-ins behind the server's proxy answer."""
    teams = f"{tls.base}/workflows/oncall/triggers/manual/paths/invoke?api-version=2016-06-01&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig={SECRETS['teams']}&verify=no"
    script = (
        "from prefect.blocks.notifications import CustomWebhookNotificationBlock, MicrosoftTeamsWebhook, SendgridEmail, SlackWebhook\n"
        f"CustomWebhookNotificationBlock(name='on-call', url='{plain.base}/custom/{{{{token}}}}', secrets={{'token': '{SECRETS['custom']}'}}, json_data={{'title': '{{{{subject}}}}', 'text': '{{{{body}}}}'}}, allow_private_urls=True).save('on-call-custom', overwrite=True)\n"
        f"MicrosoftTeamsWebhook(url='{teams}', allow_private_urls=True).save('on-call-teams', overwrite=True)\n"
        f"SlackWebhook(url='https://{SLACK}/services/{SLACK_TOKEN}').save('on-call-slack', overwrite=True)\n"
        f"SendgridEmail(api_key='{SECRETS['sendgrid']}', sender_email='amlops@example.com', to_emails=['oncall@example.com']).save('on-call-mail', overwrite=True)\n"
    )
    team.run(sys.executable, "-c", script)
    return {
        "webhook": f"{plain.base}/hook/{SECRETS['hook']}",
        "custom": "custom-webhook/on-call-custom",
        "teams": "ms-teams-webhook/on-call-teams",
        "slack": "slack-webhook/on-call-slack",
        "mail": "sendgrid-email/on-call-mail",
    }


def _teams_card(body: Any) -> str:
    """The text of a Power Automate (Teams Workflows) message, checked to be the Adaptive Card it must be."""
    assert body["type"] == "message" and body["attachments"][0]["contentType"] == "application/vnd.microsoft.card.adaptive", body
    card = body["attachments"][0]["content"]
    assert card["type"] == "AdaptiveCard" and card["body"], card
    return json.dumps(card)


def _slack_message(body: Any) -> dict[str, str]:
    """A Slack incoming-webhook message (an attachment with its title and text, in Slack's mrkdwn), checked to be one."""
    assert body["mrkdwn"] is True and len(body["attachments"]) == 1, body
    attachment = body["attachments"][0]
    assert attachment["title"] and attachment["text"], attachment
    return {"title": attachment["title"], "text": attachment["text"]}


def _sendgrid_mail(body: Any) -> dict[str, str]:
    """A SendGrid v3 mail/send request to on-call, checked to be one."""
    assert body["personalizations"] == [{"to": [{"email": "oncall@example.com"}]}] and body["from"] == {"email": "amlops@example.com"}, body
    [content] = body["content"]
    assert content["type"] in ("text/plain", "text/html") and body["subject"], body
    return {"subject": body["subject"], "text": content["value"]}


@dataclass(frozen=True)
class Heard:
    """What each channel on-call chose got about one run."""

    hook: dict[str, Any]  # the generic webhook's JSON
    custom: dict[str, Any]  # the custom webhook block's body, from its template
    card: str  # the Teams Adaptive Card's text
    slack: dict[str, str]  # the Slack message's title and text
    mail: dict[str, str]  # the e-mail's subject and text


def _heard(plain: Receiver, tls: Receiver, services: Services, run: str) -> Heard:
    return Heard(
        plain.wait("/hook/", run),
        plain.wait("/custom/", run),
        _teams_card(tls.wait("/workflows/", run)),
        _slack_message(services.wait(SLACK, run)),
        _sendgrid_mail(services.wait(SENDGRID, run)),
    )


def _cancel(deployed: Team, run: str) -> None:
    deployed.call("POST", f"/flow_runs/{run}/set_state", {"state": {"type": "CANCELLED", "name": "Cancelled"}, "force": True})


def _everywhere(heard: Heard, subject: str, *phrases: str) -> None:
    """Every channel got the subject (where it has one), each phrase and the link to the run."""
    url = heard.hook["url"]
    assert heard.custom["title"] == heard.slack["title"] == heard.mail["subject"] == subject, heard
    for channel, text in {"webhook": heard.hook["text"], "custom": heard.custom["text"], "teams": heard.card, "slack": heard.slack["text"], "e-mail": heard.mail["text"]}.items():
        missing = [p for p in (*phrases, url) if p not in text]
        assert not missing, f"the {channel} message lacks {missing}: {text}"


def test_on_call_hears_through_the_blocks_it_chose(env: Env, deployed: Team, receivers: tuple[Receiver, Receiver], services: Services) -> None:
    """A run waiting for a person (Suspended from a deployment, Paused when run in a terminal), a move that
    failed, a move that crashed, a fleet run with a failed instance: each reaches a generic webhook, a custom
    webhook block, Microsoft Teams, Slack and SendGrid e-mail blocks, in each service's shape, with what it waits
    for and the link; no URL or key is readable back."""
    plain, tls = receivers
    chosen = _channels(deployed, plain, tls)
    notify = [arg for kind in ("custom", "teams", "slack", "mail") for arg in ("--notify", chosen[kind])]
    deployed.amlops(
        "deploy", "--work-pool", "amlops-pool", *notify,
        env_extra={"AMLOPS_ON_CALL_WEBHOOK": chosen["webhook"], "AMLOPS_FLEET_SUBSCRIPTIONS": SUB},
    )  # fmt: skip
    registered = [d for d in deployed.call("POST", "/deployments/filter", {"limit": 50, "offset": 0}) if d["work_pool_name"] == "amlops-pool"]
    assert len(registered) == 5 and all(d["pull_steps"] == CLONE_STEPS for d in registered), "`amlops deploy` gives workers the same pull step"
    automations = deployed.call("POST", "/automations/filter", {})
    assert sorted(a["name"] for a in automations if a["enabled"]) == ["amlops-failed", "amlops-fleet-failures", "amlops-waiting"]
    assert all(len(a["actions"]) == 5 for a in automations), "every automation sends to every channel"
    ui = deployed.api.removesuffix("/api")

    # 1. Suspended: a deployment run of approve-private-endpoints waits for decisions.
    spec = demo_scenario()
    spec["workspaces"][0]["private_endpoint_connections"].append({"name": "partner-1", "private_endpoint": PARTNER, "status": "Pending"})
    env.control.load(spec)
    run = deployed.start_run("approve-private-endpoints", "on-demand", {"workspace": WS_ID, "poll_seconds": 1})
    try:
        assert deployed.wait(run, {"Suspended", *FINAL}) == "Suspended", deployed.worker_logs()[-4000:]
        heard = _heard(plain, tls, services, run)
    finally:
        _cancel(deployed, run)
    hook = heard.hook
    assert (hook["flow"], hook["state"], hook["pause_key"]) == ("approve-private-endpoints", "Suspended", "private-endpoints-1")
    assert hook["url"] == f"{ui}/runs/flow-run/{run}"
    _everywhere(heard, "approve-private-endpoints is waiting for a person", "decisions on the new Pending private endpoint connections", f"amlops approve {run}")

    # 2. Paused: the same flow run from a terminal (not from a deployment) pauses in its process instead.
    local = subprocess.Popen([sys.executable, "-m", "app.cli", "approve-endpoints", "--workspace", WS_ID, "--poll", "1", "--timeout", "300"], cwd=ROOT, env=deployed.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)  # fmt: skip
    try:
        paused = _paused_run(deployed)
        heard = _heard(plain, tls, services, paused)
    finally:
        os.killpg(local.pid, signal.SIGKILL)
        local.wait(30)
    _cancel(deployed, paused)
    assert (heard.hook["flow"], heard.hook["state"], heard.hook["pause_key"]) == ("approve-private-endpoints", "Paused", "private-endpoints-1")
    _everywhere(heard, "approve-private-endpoints is waiting for a person", "is Paused, waiting for a person", "decisions on the new Pending", f"amlops approve {paused}")

    # 3. A move that failed: its workspace does not exist.
    missing = WS_ID.replace("ml-prod-ws", "no-such-ws")
    run = deployed.start_run("move-workspace", "on-demand", {"request": {"source": missing, "target_subscription": TARGET_SUB, "target_resource_group": "ml-moved"}})
    assert deployed.wait(run, FINAL) == "Failed", deployed.worker_logs()[-4000:]
    heard = _heard(plain, tls, services, run)
    assert heard.hook["flow"] == "move-workspace" and heard.hook["state"] == "Failed"
    _everywhere(heard, "move-workspace Failed", "ended Failed", "no-such-ws")

    # 4. A move that crashed: its process killed (the OOM killer, a lost node) while it reads the workspace. A
    # dry run, so that it holds no lock and leaves no manifest behind for the next test's move of this workspace.
    env.control.fault("/workspaces/ml-prod-ws$", "drop", method="GET")  # its reads wait on retries meanwhile
    run = deployed.start_run("move-workspace", "on-demand", {"request": {"source": WS_ID, "target_subscription": TARGET_SUB, "target_resource_group": "ml-moved", "dry_run": True}})
    try:
        assert deployed.wait(run, {"Running", *FINAL}) == "Running", deployed.worker_logs()[-4000:]
        _until(lambda: any(f["hits"] for f in env.control.call("GET", "faults")["value"]), "the move never read its workspace")
        _kill_flow_run_processes(run)
        assert deployed.wait(run, FINAL) == "Crashed", deployed.worker_logs()[-4000:]
    finally:
        env.control.clear_faults()
    heard = _heard(plain, tls, services, run)
    assert heard.hook["flow"] == "move-workspace" and heard.hook["state"] == "Crashed"
    _everywhere(heard, "move-workspace Crashed", "ended Crashed")

    # 5. A fleet run with a failed instance: it completes, and on-call hears which instance failed and why.
    env.control.load({
        "subscriptions": [{"id": FLEET_SUB, "region": "eastus"}],
        "resource_groups": [{"id": f"/subscriptions/{FLEET_SUB}/resourceGroups/fleet", "location": "eastus"}],
        "workspaces": [{"id": str(FLEET_WS), "location": "eastus", "computes": [_instance("w-ann"), _instance("w-ben")]}],
    })  # fmt: skip
    env.control.fault("/computes/w-ann/stop$", "500", method="POST")
    run = deployed.start_run("stop-computes", "weekdays-berlin-stop", {"selector": {"subscriptions": [FLEET_SUB]}})
    assert deployed.wait(run, FINAL) == "Completed", deployed.worker_logs()[-4000:]
    heard = _heard(plain, tls, services, run)
    assert heard.hook["flow"] == "stop-computes" and "InternalServerError" in heard.hook["text"]
    _everywhere(heard, "stop-computes: instances failed", "1 failed instance(s): w-ann in team-w (")

    _nothing_reads_back_a_secret(deployed)


def _until(done: Callable[[], bool], failure: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < deadline, failure
        time.sleep(0.3)


def _kill_flow_run_processes(run: str) -> None:
    """SIGKILL the process a worker started for this run (and any it started), found by the run id in its environment."""
    marker = f"PREFECT__FLOW_RUN_ID={run}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and marker in (entry / "environ").read_bytes().split(b"\0"):
                found.append(int(entry.name))
        except OSError:
            continue  # gone, or not ours
    assert found, f"no process runs flow run {run}"
    for pid in found:
        os.kill(pid, signal.SIGKILL)


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
    """The channels' URLs and keys and the state key reach no block document, log, artifact, run parameter or persisted result."""
    secrets = [*SECRETS.values(), *SLACK_TOKEN.split("/"), AZURITE_KEY]
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
