"""The fleet's decisions, without Prefect or the emulator: which instances a selector covers, what a run
does to each, and what it reports without acting."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from amlops.errors import InvalidInput
from amlops.fleet import KEEP_ALIVE_TAG, IdlePolicy, Outcome, Selector, Survey, count_results, decide, plan_run
from amlops.models import ComputeSpec

SUB = "11111111-1111-1111-1111-111111111111"
WS = f"/subscriptions/{SUB}/resourceGroups/ml-prod/providers/Microsoft.MachineLearningServices/workspaces/ml-prod-ws"
NOW = datetime(2026, 11, 30, 18, 0, tzinfo=UTC)


def _ci(name: str, state: str = "Running", idle: str | None = "PT30M", tags: dict[str, str] | None = None, kind: str = "ComputeInstance") -> ComputeSpec:
    return ComputeSpec(name=name, compute_type=kind, state=state, idle_time_before_shutdown=idle, tags=tags or {})


def test_a_selector_matches_by_type_name_glob_exclusion_and_tags() -> None:
    selector = Selector(subscriptions=[SUB], names=["dev-*"], exclude=["dev-keep"], tags={"team": "*", "env": "dev"})
    assert selector.matches(_ci("dev-alice", tags={"team": "ml", "env": "dev"}))
    assert not selector.matches(_ci("prod-alice", tags={"team": "ml", "env": "dev"})), "name outside the globs"
    assert not selector.matches(_ci("dev-keep", tags={"team": "ml", "env": "dev"})), "excluded by name"
    assert not selector.matches(_ci("dev-bob", tags={"team": "ml", "env": "prod"})), "tag value differs"
    assert not selector.matches(_ci("dev-carol", tags={"env": "dev"})), "a required tag is missing"
    assert not selector.matches(_ci("dev-cluster", kind="AmlCompute", tags={"team": "ml", "env": "dev"})), "not a compute instance"


@pytest.mark.parametrize(
    ("selector", "says"),
    [
        (Selector(), "names no subscription and no workspace"),
        (Selector(subscriptions=[SUB], names=[]), "cannot be empty"),
        (Selector(subscriptions=[SUB], compute_types=["AmlCompute"]), "Only compute instances"),
        (Selector(subscriptions=["not-a-guid"]), "is not a GUID"),
    ],
)
def test_a_selector_that_would_match_nothing_or_the_wrong_thing_is_refused(selector: Selector, says: str) -> None:
    with pytest.raises(InvalidInput, match=says):
        selector.validated()


def test_decide_reports_what_needs_no_action_and_lets_the_rest_through() -> None:
    assert decide(_ci("a", "Stopped"), "stop", [], NOW) == ("already", "already Stopped")
    assert decide(_ci("a", "Running"), "start", [], NOW) == ("already", "already Running")
    assert decide(_ci("a", "Running"), "stop", ["train-7", "eval-2"], NOW) == ("skipped", "busy: running job(s) eval-2, train-7")
    assert decide(_ci("a", "Creating"), "stop", [], NOW) == ("skipped", "cannot stop while Creating")
    assert decide(_ci("a", "Running"), "stop", [], NOW) is None
    assert decide(_ci("a", "Stopped"), "start", [], NOW) is None


def test_a_keep_alive_tag_holds_a_stop_until_it_expires_and_an_unreadable_one_holds_it_for_good() -> None:
    later = (NOW + timedelta(hours=2)).isoformat()
    assert decide(_ci("a", tags={KEEP_ALIVE_TAG: later}), "stop", [], NOW) == ("skipped", f"kept alive until {later} by tag {KEEP_ALIVE_TAG}")
    assert decide(_ci("a", tags={KEEP_ALIVE_TAG: (NOW - timedelta(hours=1)).isoformat()}), "stop", [], NOW) is None, "an expired snooze"
    assert decide(_ci("a", tags={KEEP_ALIVE_TAG: "next friday"}), "stop", [], NOW) == ("skipped", f"kept alive indefinitely (unreadable tag value) by tag {KEEP_ALIVE_TAG}")
    assert decide(_ci("a", "Stopped", tags={KEEP_ALIVE_TAG: later}), "start", [], NOW) is None, "a snooze never holds a start"


def test_a_run_acts_only_on_what_is_selected_and_needs_it_and_says_why_for_the_rest() -> None:
    survey = Survey(
        workspace=WS,
        computes=[_ci("dev-a"), _ci("dev-b", "Stopped"), _ci("dev-busy"), _ci("dev-keep"), _ci("other"), _ci("dev-cluster", kind="AmlCompute")],
        busy={"dev-busy": ["train-1"]},
    )
    plan = plan_run("stop", Selector(subscriptions=[SUB], names=["dev-*"], exclude=["dev-keep"]), None, [survey], NOW, dry_run=False)
    assert plan.to_act == {WS: ["dev-a"]} and plan.total == 1
    assert {(o.compute, o.result, o.reason) for o in plan.outcomes} == {
        ("dev-b", "already", "already Stopped"),
        ("dev-busy", "skipped", "busy: running job(s) train-1"),
        ("dev-keep", "skipped", "excluded by the selector"),
    }, "an instance the names never covered ('other', the cluster) is not reported at all"


def test_a_dry_run_names_what_it_would_do_and_acts_on_nothing() -> None:
    survey = Survey(workspace=WS, computes=[_ci("a", "Stopped"), _ci("b", "Running")])
    plan = plan_run("start", Selector(subscriptions=[SUB]), None, [survey], NOW, dry_run=True)
    assert plan.to_act == {} and plan.total == 0
    assert [(o.compute, o.result, o.reason) for o in plan.outcomes] == [("a", "would start", "is Stopped"), ("b", "already", "already Running")]


def test_instances_outside_the_idle_policy_are_noted_whatever_the_run_does_to_them() -> None:
    survey = Survey(workspace=WS, computes=[_ci("short", "Stopped", idle="PT5M"), _ci("none", idle=None), _ci("fine", idle="PT1H"), _ci("long", idle="P1D")])
    plan = plan_run("stop", Selector(subscriptions=[SUB]), IdlePolicy(minimum="PT15M", maximum="PT4H").validated(), [survey], NOW, dry_run=False)
    assert [(v["compute"], v["problem"]) for v in plan.idle_violations] == [("short", "PT5M is below PT15M"), ("none", "no idle shutdown"), ("long", "P1D is above PT4H")]
    assert plan.to_act == {WS: ["none", "fine", "long"]}


def test_results_are_counted_per_kind() -> None:
    outcomes = [Outcome(workspace=WS, compute="a", action="stop", result="stopped"), Outcome(workspace=WS, compute="b", action="stop", result="stopped"),
                Outcome(workspace=WS, compute="c", action="stop", result="failed")]  # fmt: skip
    assert count_results(outcomes) == {"stopped": 2, "failed": 1}
