"""start-computes / stop-computes against the emulator and a real Prefect server."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from amlops.azure import computes, jobs
from amlops.fleet import IdlePolicy, Selector
from amlops.models import ResourceId
from flows.compute_power import CronRule, start_computes, stop_computes
from tasks.compute_power import UNCONFIRMED_LIMIT
from tests.conftest import Env

SUB = "66666666-6666-6666-6666-666666666666"
RG = f"/subscriptions/{SUB}/resourceGroups/fleet"
WS_A = ResourceId.parse(f"{RG}/providers/Microsoft.MachineLearningServices/workspaces/team-a")
WS_B = ResourceId.parse(f"{RG}/providers/Microsoft.MachineLearningServices/workspaces/team-b")
FUTURE = (datetime.now(UTC) + timedelta(hours=3)).isoformat()
PAST = (datetime.now(UTC) - timedelta(hours=3)).isoformat()


def _ci(name: str, state: str = "Running", tags: dict[str, str] | None = None, idle: str | None = "PT60M") -> dict[str, Any]:
    inner: dict[str, Any] = {"vmSize": "STANDARD_DS3_V2"}
    if idle:
        inner["idleTimeBeforeShutdown"] = idle
    return {"name": name, "state": state, "tags": tags or {}, "properties": {"computeType": "ComputeInstance", "properties": inner}}


def _fleet(env: Env) -> None:
    env.control.freeze()  # a-busy's job runs until the test moves the emulator's clock, however slow the machine
    env.control.load({
        "subscriptions": [{"id": SUB, "region": "eastus"}],
        "resource_groups": [{"id": RG, "location": "eastus"}],
        "workspaces": [
            {"id": str(WS_A), "location": "eastus", "computes": [
                _ci("a-alice"), _ci("a-bob", state="Stopped"), _ci("a-busy"), _ci("a-snoozed", tags={"amlops-keep-alive": FUTURE}),
                _ci("a-snooze-over", tags={"amlops-keep-alive": PAST}), _ci("a-vip", tags={"tier": "gold"}), _ci("a-noidle", idle=None),
                {"name": "a-cluster", "properties": {"computeType": "AmlCompute", "properties": {"vmSize": "STANDARD_NC6"}}},
            ]},
            {"id": str(WS_B), "location": "eastus", "computes": [_ci("b-carol"), _ci("b-dave", state="Stopped", idle="PT12H")]},
        ],
    })  # fmt: skip
    jobs.submit_command_job(env.clients, WS_A, "long-train", "python train.py", "azureml:env:1", "a-busy")
    env.control.advance(2)  # the job is Running


def _results(report: Any) -> dict[str, tuple[str, str]]:
    return {o.compute: (o.result, o.reason) for o in report.outcomes}


def _states(env: Env, ws: ResourceId) -> dict[str, str | None]:
    return {c.name: c.state for c in computes.list_computes(env.clients, ws) if c.is_instance}


def test_stop_the_fleet_never_stops_a_busy_or_snoozed_instance(flows_env: Env) -> None:
    _fleet(flows_env)
    report = stop_computes(selector=Selector(subscriptions=[SUB], exclude=["a-vip"]))
    r = _results(report)
    assert {r[n][0] for n in ("a-alice", "b-carol", "a-snooze-over", "a-noidle")} == {"stopped"}
    assert r["a-bob"] == ("already", "already Stopped") and r["b-dave"][0] == "already"
    assert r["a-busy"] == ("skipped", "busy: running job(s) long-train")
    assert r["a-snoozed"][0] == "skipped" and "kept alive until" in r["a-snoozed"][1]
    assert r["a-vip"] == ("skipped", "excluded by the selector")
    assert "a-cluster" not in r, "clusters are not compute instances"
    assert _states(flows_env, WS_A) == {"a-alice": "Stopped", "a-bob": "Stopped", "a-busy": "JobRunning", "a-snoozed": "Running", "a-snooze-over": "Stopped", "a-vip": "Running", "a-noidle": "Stopped"}
    assert report.counts == {"stopped": 4, "already": 2, "skipped": 3}


def test_running_it_again_changes_nothing(flows_env: Env) -> None:
    _fleet(flows_env)
    stop_computes(selector=Selector(workspaces=[str(WS_B)]))
    mark = flows_env.control.mark()
    again = stop_computes(selector=Selector(workspaces=[str(WS_B)]))
    assert again.counts == {"already": 2} and flows_env.control.writes(mark) == []


def test_selection_by_name_glob_and_tag(flows_env: Env) -> None:
    _fleet(flows_env)
    by_tag = stop_computes(selector=Selector(workspaces=[str(WS_A)], tags={"tier": "gold"}))
    assert list(_results(by_tag)) == ["a-vip"]
    by_name = start_computes(selector=Selector(subscriptions=[SUB], names=["b-*"]))
    assert _results(by_name) == {"b-carol": ("already", "already Running"), "b-dave": ("started", "")}


def test_capacity_failure_is_retried_then_reported_without_holding_up_the_rest(flows_env: Env) -> None:
    _fleet(flows_env)
    stop_computes(selector=Selector(subscriptions=[SUB]))
    flows_env.control.fault("/computes/a-alice/start$", "lro_failed", method="POST", count=1, code="ZonalAllocationFailed", message="No capacity for STANDARD_DS3_V2 in the zone.")
    flows_env.control.fault("/computes/b-carol/start$", "lro_failed", method="POST", code="QuotaExceeded", message="Quota of 24 cores for standardDSv3Family exceeded.")
    report = start_computes(selector=Selector(subscriptions=[SUB]), capacity_retries=1, capacity_retry_delay=0)
    r = _results(report)
    assert r["a-alice"] == ("started", ""), "a transient allocation failure was retried"
    assert r["b-carol"][0] == "failed" and "QuotaExceeded: Quota of 24 cores" in r["b-carol"][1] and "2 attempts" in r["b-carol"][1]
    assert r["b-dave"][0] == "started" and r["a-bob"][0] == "started"


def test_a_failing_instance_among_healthy_ones(flows_env: Env) -> None:
    _fleet(flows_env)
    flows_env.control.fault("/computes/a-alice/stop$", "500", method="POST")
    report = stop_computes(selector=Selector(workspaces=[str(WS_A)]))
    r = _results(report)
    assert r["a-alice"][0] == "failed" and "InternalServerError" in r["a-alice"][1]
    assert r["a-noidle"][0] == "stopped" and r["a-snooze-over"][0] == "stopped"
    # A stop whose answer was lost is never sent again blindly: each resend follows a list of the workspace showing the
    # instance still Running, then the same re-read (busy, keep-alive) as the first stop.
    mine = ("/computes/a-alice/stop", "/computes/a-alice", f"{WS_A}/computes")
    seen = ["LIST" if q["path"].endswith("/computes") else q["method"] for q in flows_env.control.requests() if q["path"].endswith(mine)]
    posts = [i for i, method in enumerate(seen) if method == "POST"]
    assert len(posts) == UNCONFIRMED_LIMIT and all(seen[i - 1] == "GET" for i in posts), seen
    assert all("LIST" in seen[a:b] for a, b in zip(posts, posts[1:], strict=False)), seen


def test_throttled_writes_wait_out_retry_after(flows_env: Env) -> None:
    _fleet(flows_env)
    flows_env.control.fault("/computes/b-carol/stop$", "429", method="POST", count=2, retry_after=1)
    report = stop_computes(selector=Selector(workspaces=[str(WS_B)]))
    assert _results(report)["b-carol"][0] == "stopped"
    stops = [q for q in flows_env.control.requests() if q["path"].endswith("b-carol/stop")]
    assert [q["status"] for q in stops] == [429, 429, 202]
    # Each resend came at least Retry-After (1 s) after the 429 was answered: a client resending at once fails here.
    waited = [later["time"] - (earlier["time"] + earlier["ms"] / 1000) for earlier, later in zip(stops, stops[1:], strict=False)]
    assert min(waited) >= 0.95, f"resent after {waited} s, Retry-After said 1 s"


def test_dry_run_lists_what_would_change_and_writes_nothing(flows_env: Env) -> None:
    _fleet(flows_env)
    mark = flows_env.control.mark()
    report = stop_computes(selector=Selector(subscriptions=[SUB]), dry_run=True, idle_policy=IdlePolicy(set_to="PT60M"))
    r = _results(report)
    assert r["a-alice"] == ("would stop", "is Running") and r["a-busy"][0] == "skipped"
    assert {v["compute"]: v["problem"] for v in report.idle_violations} == {"a-noidle": "no idle shutdown", "b-dave": "PT12H is above PT4H"}
    assert flows_env.control.writes(mark) == []


def test_idle_policy_sets_instances_outside_the_range(flows_env: Env) -> None:
    _fleet(flows_env)
    report = stop_computes(selector=Selector(subscriptions=[SUB], names=["*dave", "*noidle"]), idle_policy=IdlePolicy(minimum="PT30M", maximum="PT2H", set_to="PT60M"))
    assert {v["compute"]: v["action"] for v in report.idle_violations} == {"a-noidle": "set to PT60M", "b-dave": "set to PT60M"}
    assert computes.get_compute(flows_env.clients, WS_B, "b-dave").idle_time_before_shutdown == "PT60M"


@pytest.mark.parametrize(
    ("kwargs", "says"),
    [
        ({"selector": Selector()}, "would match nothing"),
        ({"selector": Selector(workspaces=[str(WS_A).replace("team-a", "team-z")])}, "team-z does not exist"),
        ({"selector": Selector(workspaces=["team-a"])}, "must start with /subscriptions"),
        ({"selector": Selector(subscriptions=[SUB], compute_types=["AmlCompute"])}, "Only compute instances"),
        ({"selector": Selector(subscriptions=[SUB]), "schedule_group": [CronRule(action="stop", cron="0 25 * * *")]}, "is invalid"),
        ({"selector": Selector(subscriptions=[SUB]), "timezone": "Mars/Olympus"}, "Unknown time zone"),
        ({"selector": Selector(subscriptions=[SUB]), "idle_policy": IdlePolicy(minimum="PT5M")}, "within PT15M..P3D"),
    ],
    ids=["empty-selector", "unknown-workspace", "malformed-workspace", "cluster", "bad-cron", "bad-timezone", "bad-idle-range"],
)
def test_bad_input_is_refused_before_any_write(flows_env: Env, kwargs: dict[str, Any], says: str) -> None:
    _fleet(flows_env)
    mark = flows_env.control.mark()
    state = stop_computes(**kwargs, return_state=True)
    assert state.is_failed() and says in str(state.result(raise_on_failure=False))
    assert flows_env.control.writes(mark) == []


def test_the_morning_start_sends_every_workspace_s_starts_before_waiting_for_any(flows_env: Env) -> None:
    """More workspaces than threads (WORKSPACES_AT_ONCE): a thread that waited out one workspace's ~90 s starts
    before the next workspace's requests would leave ARM's write budget idle for a whole start each time."""
    many = [ResourceId.parse(f"{RG}/providers/Microsoft.MachineLearningServices/workspaces/team-{i}") for i in range(6)]
    flows_env.control.load({
        "subscriptions": [{"id": SUB, "region": "eastus"}],
        "resource_groups": [{"id": RG, "location": "eastus"}],
        "workspaces": [{"id": str(ws), "location": "eastus", "computes": [_ci(f"{ws.name}-{j}", state="Stopped") for j in range(2)]} for ws in many],
    })  # fmt: skip
    start_seconds = 6.0
    flows_env.control.settings(lro={"default": {"mode": "immediate"}, "compute.start": {"mode": "seconds", "seconds": start_seconds}})
    report = start_computes(selector=Selector(subscriptions=[SUB]))
    assert report.counts == {"started": 12}
    posts = [q["time"] for q in flows_env.control.requests() if q["method"] == "POST" and q["path"].endswith("/start")]
    assert len(posts) == 12
    assert max(posts) - min(posts) < start_seconds, "a workspace's starts waited for another workspace's to finish"
    assert all(state == "Running" for ws in many for state in _states(flows_env, ws).values())
