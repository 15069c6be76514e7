"""Who may answer an approval: the deployment's approvers, never the run's starter (amlops.approvers)."""

from __future__ import annotations

from amlops.approvers import approver_problems, approvers_for, starter_of

CONFIG = {"move-workspace/on-demand": ["alice", "Bob"], "move-workspace": ["carol"], "*": ["dave"]}


def test_the_list_is_found_per_deployment_then_flow_then_default() -> None:
    assert approvers_for(CONFIG, "move-workspace", "on-demand") == ["alice", "Bob"]
    assert approvers_for(CONFIG, "move-workspace", "nightly") == ["carol"], "a deployment without its own list uses the flow's"
    assert approvers_for(CONFIG, "approve-private-endpoints", "on-demand") == ["dave"]
    assert approvers_for({"move-workspace/on-demand": "alice, bob"}, "move-workspace", "on-demand") == ["alice", "bob"]
    assert approvers_for(None, "move-workspace", "on-demand") is None, "no variable: no list"
    assert approvers_for({"other": ["x"]}, "move-workspace", None) is None


def test_someone_not_on_the_list_is_refused_with_the_list() -> None:
    assert approver_problems("eve", ["alice", "Bob"], None) == ["eve is not on this deployment's list of approvers (alice, Bob); ask one of them"]
    assert approver_problems(" bob ", ["alice", "Bob"], None) == [], "names compare without case or spaces"
    assert approver_problems("anyone", None, None) == [], "without a list anyone may approve"
    assert approver_problems("  ", None, None) == ["the approver's name is empty"]


def test_the_starter_may_not_approve_their_own_run() -> None:
    assert approver_problems("Alice", ["alice", "bob"], "alice") == ["Alice started this run and may not approve it; ask another approver"]
    assert approver_problems("bob", ["alice", "bob"], "alice") == []
    both = approver_problems("alice", ["bob"], "alice")
    assert len(both) == 2 and "not on this deployment's list" in both[0] and "started this run" in both[1]


def test_the_starter_is_known_from_an_authenticated_user_or_a_started_by_tag() -> None:
    assert starter_of("USER", "alice@example.com", []) == "alice@example.com"
    assert starter_of("AUTOMATION", "nightly", ["started-by:bob"]) == "bob", "an automation is not a person; the tag names one"
    assert starter_of(None, None, ["move", "started-by: carol "]) == "carol"
    assert starter_of(None, None, ["started-by:"]) is None and starter_of(None, None, []) is None
