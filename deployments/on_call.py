"""Tell the on-call engineer when a run waits for a person: a Prefect automation with a webhook action.

A run that pauses or suspends for approval emits ``prefect.flow-run.Paused`` / ``prefect.flow-run.Suspended``;
the automation reacts to either and POSTs a message (Teams, Slack or any HTTP endpoint) naming the flow,
the run, what it waits for and a link to it in the Prefect UI (the server's PREFECT_UI_URL). The event
carries no pause key, so the message template reads the flow run, whose paused state holds it.
`amlops deploy` creates it when AMLOPS_ON_CALL_WEBHOOK is set; the webhook URL is stored in a Webhook
block, whose url field Prefect keeps secret (a Teams or Slack URL is a credential).
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from flows.approvals import PLAN_KEY, PRIVATE_ENDPOINTS_KEY

AUTOMATION = "amlops-on-call"
BLOCK = "amlops-on-call"
WAITS_FOR = {
    # pause keys of the flows' approvals -> what the person is asked
    PLAN_KEY: "approval of the move plan (type the workspace name to confirm)",
    PRIVATE_ENDPOINTS_KEY: "decisions on the new Pending private endpoint connections",
}

# The paused state's key names the form where the server keeps it; where it does not (seen: None in the
# flow run a template reads), the flow's name still tells what is asked.
_KEY = "flow_run.state.state_details.pause_key"
_TEXT = (
    "{{ flow.name }} run '{{ flow_run.name }}' is {{ flow_run.state.name }}, waiting for a person: "
    + f"{{% if {_KEY} == '{PLAN_KEY}' or ({_KEY} != '{PRIVATE_ENDPOINTS_KEY}' and flow.name == 'move-workspace') %}}{WAITS_FOR[PLAN_KEY]}"
    + f"{{% elif {_KEY} == '{PRIVATE_ENDPOINTS_KEY}' or flow.name == 'approve-private-endpoints' %}}{WAITS_FOR[PRIVATE_ENDPOINTS_KEY]}"
    + "{% else %}the form in the run{% endif %}"
    + ". Answer in the Prefect UI, or: amlops approve {{ flow_run.id }}"
)
PAYLOAD = (
    '{"text": "' + _TEXT + ' {{ flow_run|ui_url }}", "flow": "{{ flow.name }}", "flow_run_id": "{{ flow_run.id }}", '
    '"state": "{{ flow_run.state.name }}", "pause_key": "{{ flow_run.state.state_details.pause_key }}", "url": "{{ flow_run|ui_url }}"}'
)


def _private(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_private or ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def ensure_on_call_automation(webhook_url: str) -> str:
    """Create (or replace) the automation and its webhook block; returns the automation's id."""
    from prefect.automations import Automation
    from prefect.blocks.webhook import Webhook
    from prefect.events.actions import CallWebhook
    from prefect.events.schemas.automations import EventTrigger, Posture

    if urlsplit(webhook_url).scheme not in ("http", "https"):
        raise ValueError(f"AMLOPS_ON_CALL_WEBHOOK must be an http(s) URL, not {urlsplit(webhook_url).scheme or 'a bare name'}.")
    # An address inside the network (a relay, or the test's receiver) is the operator's choice, not a redirect.
    block_id = Webhook(method="POST", url=webhook_url, headers={"Content-Type": "application/json"}, allow_private_urls=_private(webhook_url)).save(BLOCK, overwrite=True)
    try:
        Automation.read(name=AUTOMATION).delete()
    except ValueError:
        pass  # none yet
    automation = Automation(
        name=AUTOMATION,
        description="Tells on-call when an amlops run waits for a person (plan approval, private endpoint decisions).",
        trigger=EventTrigger(
            expect={"prefect.flow-run.Paused", "prefect.flow-run.Suspended"},
            match={"prefect.resource.id": "prefect.flow-run.*"},
            posture=Posture.Reactive,
            threshold=1,
        ),
        actions=[CallWebhook(block_document_id=block_id, payload=PAYLOAD)],
    ).create()
    return str(automation.id)
