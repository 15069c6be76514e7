"""Tell on-call what needs them, through the channel they already watch: Prefect automations and blocks.

Three automations, each sending to every channel the operator chose (`amlops deploy --notify TYPE/NAME`,
a Prefect block as Prefect ships them: Slack, Microsoft Teams, SendGrid e-mail, a custom webhook (the kinds
the team tier proves), or another notification block, or a generic Webhook block):

- ``amlops-waiting``: a run pauses (or suspends) for a person: the event ``amlops.approval.waiting`` the
  approval pauses emit as they start, with the pause key and what the person is asked (Prefect's own
  Paused/Suspended events carry no pause key), and the command that answers it;
- ``amlops-failed``: a move or a fleet run ended Failed or Crashed;
- ``amlops-fleet-failures``: a fleet run finished with failed instances (the event ``amlops.fleet.failures``
  the fleet flow emits, naming them).

A notification block sends its service's own message (Apprise builds Slack's, Teams' and the others'
payloads; a custom webhook block its own template); a generic Webhook block is called with a JSON body
(``text``, ``flow``, ``flow_run_id``, ``state``, ``pause_key``, ``url``). Every message links to the run
in the Prefect UI (the server's PREFECT_UI_URL). AMLOPS_ON_CALL_WEBHOOK=<url> is a shortcut: `amlops
deploy` keeps it in a Webhook block named ``amlops-on-call``, whose url field Prefect stores as a secret.
"""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import urlsplit
from uuid import UUID

from amlops.errors import InvalidInput
from flows.approvals import WAITING_EVENT
from flows.compute_power import FLEET_FAILURES_EVENT
from tasks.common import sync_result

BLOCK = "amlops-on-call"
WAITING, FAILED, FLEET_FAILURES = "amlops-waiting", "amlops-failed", "amlops-fleet-failures"
AUTOMATIONS = (WAITING, FAILED, FLEET_FAILURES)
WATCHED_FAILURES = ("move-workspace", "start-computes", "stop-computes")
MESSAGES = {
    WAITING: (
        "{{ flow.name }} is waiting for a person",
        "{{ flow.name }} run '{{ flow_run.name }}' is {{ event.payload.state }}, waiting for a person: {{ event.payload.waits_for }}"
        ". Answer in the Prefect UI, or: amlops approve {{ flow_run.id }}",
    ),
    FAILED: (
        "{{ flow.name }} {{ flow_run.state.name }}",
        "{{ flow.name }} run '{{ flow_run.name }}' ended {{ flow_run.state.name }}: {{ flow_run.state.message }}",
    ),
    FLEET_FAILURES: (
        "{{ flow.name }}: instances failed",
        "{{ flow.name }} run '{{ flow_run.name }}' finished with {{ event.payload.failed | length }} failed instance(s): "
        "{% for f in event.payload.failed %}{{ f.compute }} in {{ f.workspace }} ({{ f.reason }}){% if not loop.last %}; {% endif %}{% endfor %}",
    ),
}


def _json_payload(text: str) -> str:
    """The generic webhook's body: a JSON object a Teams/Slack relay or any script reads (the text JSON-quoted,
    since a run's state message may hold quotes or line breaks)."""
    return (
        '{"text": {% filter tojson %}' + text + ' {{ flow_run|ui_url }}{% endfilter %}, "flow": "{{ flow.name }}", "flow_run_id": "{{ flow_run.id }}", '
        '"state": "{{ event.payload.state or flow_run.state.name }}", "pause_key": "{{ event.payload.pause_key or \'\' }}", "url": "{{ flow_run|ui_url }}"}'
    )


@dataclass(frozen=True)
class Channel:
    slug: str  # TYPE/NAME, as given
    block_document_id: UUID
    webhook: bool  # a generic Webhook block (call-webhook) rather than a notification block (send-notification)


def _private(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_private or ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def webhook_channel(url: str) -> str:
    """AMLOPS_ON_CALL_WEBHOOK: a Webhook block for this URL; returns its TYPE/NAME."""
    from prefect.blocks.webhook import Webhook

    if urlsplit(url).scheme not in ("http", "https"):
        raise InvalidInput(f"AMLOPS_ON_CALL_WEBHOOK must be an http(s) URL, not {urlsplit(url).scheme or 'a bare name'}.")
    # An address inside the network (a relay, or the test's receiver) is the operator's choice, not a redirect.
    webhook = Webhook.model_validate({"method": "POST", "url": url, "headers": {"Content-Type": "application/json"}, "allow_private_urls": _private(url)})
    sync_result(webhook.save(BLOCK, overwrite=True))
    return f"webhook/{BLOCK}"


def channels(notify: list[str]) -> list[Channel]:
    """The blocks named TYPE/NAME (and AMLOPS_ON_CALL_WEBHOOK's), each checked to exist and to be one that sends."""
    from prefect.blocks.core import Block
    from prefect.blocks.notifications import NotificationBlock
    from prefect.blocks.webhook import Webhook
    from prefect.client.orchestration import get_client
    from prefect.exceptions import ObjectNotFound

    names = list(notify)
    for name in names:
        if "/" not in name:
            raise InvalidInput(f"--notify {name!r} is not TYPE/NAME of a Prefect block, such as slack-webhook/on-call (see `prefect block ls`).")
    webhook = os.environ.get("AMLOPS_ON_CALL_WEBHOOK", "").strip()
    if webhook:
        names.append(webhook_channel(webhook))
    found = []
    with get_client(sync_client=True) as client:
        for name in names:
            slug, _, block_name = name.partition("/")
            try:
                document = client.read_block_document_by_name(block_name, slug)
            except ObjectNotFound:
                raise InvalidInput(f"--notify {name}: no such block; create it in the Prefect UI (Blocks) or with `prefect block create {slug}`.") from None
            kind = Block.get_block_class_from_schema(document.block_schema) if document.block_schema else None
            is_webhook = kind is not None and issubclass(kind, Webhook)
            if kind is None or not (is_webhook or issubclass(kind, NotificationBlock)):
                raise InvalidInput(f"--notify {name}: a {slug} block sends no notification; name a notification block (slack-webhook, ms-teams-webhook, custom-webhook, sendgrid-email, ...) or a webhook block.")
            found.append(Channel(name, document.id, is_webhook))
    return found


def _actions(kind: str, to: list[Channel]) -> list[Any]:
    from prefect.events.actions import CallWebhook, SendNotification

    subject, body = MESSAGES[kind]
    return [
        CallWebhook(block_document_id=c.block_document_id, payload=_json_payload(body))
        if c.webhook
        else SendNotification(block_document_id=c.block_document_id, subject=subject, body=body + "\n{{ flow_run|ui_url }}")
        for c in to
    ]


def _trigger(kind: str) -> Any:
    from prefect.events.schemas.automations import EventTrigger, Posture

    run: dict[str, str | list[str]] = {"prefect.resource.id": "prefect.flow-run.*"}
    if kind == WAITING:
        return EventTrigger(expect={WAITING_EVENT}, match=run, posture=Posture.Reactive, threshold=1)
    if kind == FAILED:
        flows: dict[str, str | list[str]] = {"prefect.resource.role": "flow", "prefect.resource.name": list(WATCHED_FAILURES)}
        return EventTrigger(expect={"prefect.flow-run.Failed", "prefect.flow-run.Crashed"}, match=run, match_related=flows, posture=Posture.Reactive, threshold=1)
    return EventTrigger(expect={FLEET_FAILURES_EVENT}, match=run, posture=Posture.Reactive, threshold=1)


DESCRIPTIONS = {
    WAITING: "Tells on-call when an amlops run waits for a person (plan approval, private endpoint decisions).",
    FAILED: "Tells on-call when a move or a fleet run ends Failed or Crashed.",
    FLEET_FAILURES: "Tells on-call when a fleet run finishes with failed instances.",
}


def ensure_on_call(to: list[Channel]) -> list[str]:
    """Create (or replace) the three automations sending to these channels; none given, leave them as they are."""
    from prefect.automations import Automation

    if not to:
        return []
    ids = []
    for kind in AUTOMATIONS:
        try:
            found = cast(Automation, Automation.read(name=kind))  # typed as the async variant only; called from sync code it returns the automation
            found.delete()
        except ValueError:
            pass  # none yet
        created = Automation(name=kind, description=DESCRIPTIONS[kind], trigger=_trigger(kind), actions=_actions(kind, to)).create()
        ids.append(str(sync_result(created).id))
    return ids
