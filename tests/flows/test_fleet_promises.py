"""What the README promises of start-computes / stop-computes that the basic fleet tests do not show:
instances stopped in parallel, the keep-alive tag as written there, compute types selected, holidays
carried by the deployments themselves."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from amlops.fleet import Selector
from deployments.fleet import fleet_deployments
from flows.compute_power import stop_computes
from tests.conftest import Env
from tests.flows.test_compute_power import RG, SUB, WS_A, WS_B, _ci, _fleet, _results, _states
from tests.flows.test_schedules import _run_scheduled

STOPPABLE_IN_A = {"a-alice", "a-snooze-over", "a-vip", "a-noidle"}


def _stop_posts(env: Env) -> list[str]:
    return [r["path"].split("/computes/")[1].split("/")[0] for r in env.control.requests() if r["method"] == "POST" and r["path"].endswith("/stop")]


def test_the_instances_of_a_workspace_are_stopped_in_parallel(flows_env: Env) -> None:
    """Each stop is a long-running operation that cannot finish while the emulator's clock stands still:
    a run that stopped one instance after another would send one stop and wait. All four are sent."""
    _fleet(flows_env)  # the clock is frozen
    flows_env.control.settings(lro={"default": {"mode": "immediate"}, "compute.stop": {"mode": "seconds", "seconds": 1}})
    done: list[Any] = []
    runner = threading.Thread(target=lambda: done.append(stop_computes(selector=Selector(workspaces=[str(WS_A)]))), daemon=True)
    runner.start()
    deadline = time.monotonic() + 300
    while set(_stop_posts(flows_env)) != STOPPABLE_IN_A:
        assert runner.is_alive() and time.monotonic() < deadline, f"only {_stop_posts(flows_env)} were sent while the first stop was still running"
        time.sleep(0.1)
    in_flight = _states(flows_env, WS_A)
    assert {n: in_flight[n] for n in STOPPABLE_IN_A} == dict.fromkeys(STOPPABLE_IN_A, "Stopping"), "all four in flight at once, none finished"
    flows_env.control.advance(1)  # now every operation may finish
    runner.join(300)
    assert {n for n, (result, _) in _results(done[0]).items() if result == "stopped"} == STOPPABLE_IN_A


def test_the_keep_alive_tag_as_the_readme_writes_it(flows_env: Env) -> None:
    """`2026-11-22T20:00:00Z`: whole seconds, a Z for UTC."""
    later = (datetime.now(UTC) + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    earlier = (datetime.now(UTC) - timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
    flows_env.control.load({
        "subscriptions": [{"id": SUB, "region": "eastus"}],
        "resource_groups": [{"id": RG, "location": "eastus"}],
        "workspaces": [{"id": str(WS_B), "location": "eastus", "computes": [_ci("b-carol", tags={"amlops-keep-alive": later}), _ci("b-dave", tags={"amlops-keep-alive": earlier})]}],
    })  # fmt: skip
    r = _results(stop_computes(selector=Selector(workspaces=[str(WS_B)])))
    assert r["b-carol"][0] == "skipped" and "kept alive until" in r["b-carol"][1], r["b-carol"]
    assert later[:16].replace("T", " ") in r["b-carol"][1].replace("T", " "), "the reason names the snooze's time"
    assert r["b-dave"] == ("stopped", ""), "a snooze whose time has come no longer protects the instance"
    assert _states(flows_env, WS_B) == {"b-carol": "Running", "b-dave": "Stopped"}


def test_compute_types_select_instances_and_leave_the_rest(flows_env: Env) -> None:
    _fleet(flows_env)
    report = stop_computes(selector=Selector(workspaces=[str(WS_A)], compute_types=["ComputeInstance"], names=["a-alice", "a-cluster"]))
    assert _results(report) == {"a-alice": ("stopped", "")}, "the instance selected by type and name, the cluster not"


def _berlin_fleet(holidays: list[Any]) -> dict[str, Any]:
    stop = next(d for d in fleet_deployments("t", Selector(workspaces=[str(WS_B)]), holidays=holidays) if d.name == "t-stop")
    return stop.parameters


def test_holidays_given_to_the_deployments_reach_their_runs(flows_env: Env) -> None:
    _fleet(flows_env)
    today = datetime.now(ZoneInfo("Europe/Berlin")).date()
    mark = flows_env.control.mark()
    on_holiday = _run_scheduled(datetime.now(UTC), **_berlin_fleet([today]))
    assert "holiday" in on_holiday.skipped_run and on_holiday.outcomes == [] and flows_env.control.writes(mark) == []
    working_day = _run_scheduled(datetime.now(UTC), **_berlin_fleet([today + timedelta(days=1)]))
    assert working_day.skipped_run == "" and _results(working_day)["b-carol"] == ("stopped", "")
