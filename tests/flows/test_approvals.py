"""Approval pauses against a real Prefect server: a flow pauses, another thread answers it with typed input."""

from __future__ import annotations

import threading
import time
import uuid
from typing import Any

import pytest

from amlops.approvals import AllowList
from amlops.azure import network
from amlops.errors import InvalidInput
from amlops.models import ResourceId
from flows import pauses
from flows.approve_private_endpoints import approve_private_endpoints
from tests.conftest import WS_ID, Env, demo_scenario
from tests.flows.runs import history

WS = ResourceId.parse(WS_ID)
HUB = "/subscriptions/11111111-1111-1111-1111-111111111111/resourceGroups/network-hub/providers/Microsoft.Network/privateEndpoints/pe-new-hub"
PARTNER = "/subscriptions/44444444-4444-4444-4444-444444444444/resourceGroups/partner/providers/Microsoft.Network/privateEndpoints/pe-partner"
UNKNOWN = "/subscriptions/55555555-5555-5555-5555-555555555555/resourceGroups/x/providers/Microsoft.Network/privateEndpoints/pe-unknown"


def _pending_scenario(env: Env) -> None:
    spec = demo_scenario()
    spec["workspaces"][0]["private_endpoint_connections"] += [
        {"name": "hub-2", "private_endpoint": HUB, "status": "Pending", "description": "hub team"},
        {"name": "partner-1", "private_endpoint": PARTNER, "status": "Pending", "description": "please approve"},
        {"name": "unknown-1", "private_endpoint": UNKNOWN, "status": "Pending"},
    ]
    env.control.load(spec)


def _statuses(env: Env) -> dict[str, str]:
    return {c.name: c.status for c in network.list_connections(env.clients, WS)}


class Background:
    """Runs a flow in a thread, under a name of its own, and hands back its final state."""

    def __init__(self, flow: Any, **kwargs: Any) -> None:
        self.name = f"bg-{uuid.uuid4().hex[:10]}"
        self.state: Any = None
        run = flow.with_options(flow_run_name=self.name)
        self.thread = threading.Thread(target=lambda: setattr(self, "state", run(**kwargs, return_state=True)), daemon=True)
        self.thread.start()

    def paused(self, field: str, timeout: float = 300, newer_than: pauses.PausedRun | None = None) -> pauses.PausedRun:
        """This run, once it waits for a form with ``field`` in it (in a pause after ``newer_than``, if given)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for run in pauses.list_paused():
                if newer_than is not None and run.paused_at <= newer_than.paused_at:
                    continue
                if run.name == self.name and any(field in name or field in spec.get("title", "") for name, spec in run.fields.items()):
                    return run
            time.sleep(0.2)
        raise AssertionError(f"{self.name} never paused asking about {field}")

    def result(self, timeout: float = 300) -> Any:
        self.thread.join(timeout)
        assert not self.thread.is_alive(), "the flow did not finish"
        return self.state


def _run(**kwargs: Any) -> Background:
    return Background(approve_private_endpoints, workspace=WS_ID, poll_seconds=1, **kwargs)


def test_allow_list_alone_decides_without_a_pause(flows_env: Env) -> None:
    spec = demo_scenario()
    spec["workspaces"][0]["private_endpoint_connections"].append({"name": "hub-2", "private_endpoint": HUB, "status": "Pending"})
    flows_env.control.load(spec)
    state = approve_private_endpoints(workspace=WS_ID, allow_list=AllowList(resource_groups=["network-hub"]), return_state=True)
    decisions = state.result()
    assert [(d.connection, d.via, d.outcome) for d in decisions] == [("hub-2", "allow-list", "Approved")]
    assert _statuses(flows_env)["hub-2"] == "Approved"
    run_id = state.state_details.flow_run_id
    assert run_id is not None and "Paused" not in history(run_id), "nobody was asked"


def test_mixed_allow_list_and_a_person(flows_env: Env) -> None:
    _pending_scenario(flows_env)
    run = _run(allow_list=AllowList(subscriptions=["11111111-1111-1111-1111-111111111111"]))
    paused = run.paused("partner-1")
    assert "hub-2" not in str(paused.fields), "the allow-listed connection is not put to a person"
    assert "pe-partner" in paused.description and "please approve" in paused.description
    pauses.answer(paused.id, approve=True, approver="oncall-bob", reason="INC-7", decisions={"partner-1": "approve", "unknown-1": "reject"})
    state = run.result()
    assert state.is_completed()
    by_name = {d.connection: d for d in state.result()}
    assert (by_name["hub-2"].via, by_name["partner-1"].decided_by, by_name["unknown-1"].verdict) == ("allow-list", "oncall-bob", "reject")
    statuses = _statuses(flows_env)
    assert (statuses["hub-2"], statuses["partner-1"], statuses["unknown-1"]) == ("Approved", "Approved", "Rejected")


def test_invalid_answer_is_refused_and_asked_again(flows_env: Env) -> None:
    _pending_scenario(flows_env)
    run = _run()
    first = run.paused("partner-1")
    with pytest.raises(InvalidInput, match="Not pending"):
        pauses.answer(first.id, approve=True, approver="bob", reason="", decisions={"partner-9": "approve"})
    pauses.answer(first.id, approve=True, approver="  ", reason="", decisions={"partner-1": "approve"})  # no approver
    second = run.paused("partner-1", newer_than=first)
    assert second.paused_at > first.paused_at, "asked again, in a new pause"
    assert "refused" in second.description and "approver" in second.description
    pauses.answer(second.id, approve=True, approver="bob", reason="ok", decisions={"partner-1": "approve"})
    state = run.result()
    assert state.is_completed() and _statuses(flows_env)["partner-1"] == "Approved"
    assert _statuses(flows_env)["unknown-1"] == "Pending", "left undecided stays Pending"


def test_timeout_decides_nothing(flows_env: Env) -> None:
    _pending_scenario(flows_env)
    before = _statuses(flows_env)
    mark = flows_env.control.mark()
    state = approve_private_endpoints(workspace=WS_ID, timeout_seconds=2, poll_seconds=1, return_state=True)
    assert state.is_failed()
    message = str(state.result(raise_on_failure=False))
    assert "timed out" in message and "partner-1" in message and "unknown-1" in message
    assert _statuses(flows_env) == before and flows_env.control.writes(mark) == []


def test_a_connection_changed_while_paused_is_reported_not_overwritten(flows_env: Env) -> None:
    _pending_scenario(flows_env)
    run = _run()
    paused = run.paused("partner-1")
    network.set_connection_status(flows_env.clients, WS, "partner-1", "Rejected", "security said no")
    pauses.answer(paused.id, approve=True, approver="bob", reason="", decisions={"partner-1": "approve"})
    decisions = {d.connection: d for d in run.result().result()}
    assert decisions["partner-1"].outcome == "skipped: it became Rejected meanwhile"
    assert _statuses(flows_env)["partner-1"] == "Rejected"


def test_plan_approval_pause_takes_a_person_and_checks_the_typed_name(flows_env: Env) -> None:
    from flows.move_workspace import move_workspace
    from tests.flows.conftest import move_args

    flows_env.load_demo()
    mark = flows_env.control.mark()
    run = Background(move_workspace, **move_args(approve_plan_as=None, confirm_workspace=None))
    paused = run.paused("workspace_name")
    assert "Move plan" in paused.description and "alice-ci" in paused.description
    pauses.answer(paused.id, approve=True, approver="carol", reason="CHG-1", workspace_name="ml-prod")  # mistyped
    again = run.paused("workspace_name", newer_than=paused)
    assert "ml-prod'" in again.description and "refused" in again.description
    assert flows_env.control.writes(mark) == [], "nothing is written before the plan is approved"
    pauses.answer(again.id, approve=False, approver="carol", reason="not today", workspace_name="")
    state = run.result()
    assert state.is_failed() and "rejected by carol: not today" in str(state.result(raise_on_failure=False))
    assert flows_env.control.writes(mark) == []
