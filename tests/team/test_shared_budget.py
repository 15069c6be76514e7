"""One ARM budget across processes: pacers that read x-ms-ratelimit-remaining-* share a subscription's
budget without talking to each other; two fleet runs on the team's workers get no 429."""

from __future__ import annotations

import threading
import time
from typing import Any

from amlops.emulator.throttle import Throttler
from amlops.pacing import Lane
from tests.conftest import Env
from tests.team.conftest import FINAL, Team

SUB = "69696969-6969-6969-6969-696969696969"


def _two_processes(report_remaining: bool, per_process: int = 60) -> int:
    """Two pacers (as in two worker processes) spend one small ARM bucket at once; returns the 429 count."""
    arm = Throttler()
    arm.configure(writes=(20.0, 40.0))  # 20 burst, 40 per second: the test takes about a second
    clock = time.monotonic
    guard, throttled = threading.Lock(), []

    def process() -> None:
        lane = Lane(rate=38.0, burst=19, clock=clock)  # each believes the budget is its own, as before
        for _ in range(per_process):
            lane.enter()
            with guard:
                allowed, remaining, _ = arm.check(SUB, "writes", clock())
            if not allowed:
                throttled.append(1)
            lane.leave(remaining if report_remaining else None)

    threads = [threading.Thread(target=process) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return len(throttled)


def test_pacers_reading_what_arm_says_is_left_share_one_budget() -> None:
    assert _two_processes(report_remaining=False) > 0, "two pacers that each own the budget overspend it"
    assert _two_processes(report_remaining=True) == 0


def test_a_lane_keeps_a_share_of_what_is_left_in_flight() -> None:
    lane = Lane(rate=9.5, burst=190)
    assert lane.room() == 47, "before ARM has said anything: a quarter of the burst"
    lane.enter()
    lane.leave(remaining=50)
    assert lane.room() == 10, "(50 left - 10 reserve) / 4"
    lane.leave(remaining=3)
    assert lane.room() == 5, "half the reserve when the budget runs low"


def _fleet(workspaces: int, instances: int) -> tuple[dict[str, Any], list[str]]:
    rg = f"/subscriptions/{SUB}/resourceGroups/fleet"
    ids = [f"{rg}/providers/Microsoft.MachineLearningServices/workspaces/shared-{i}" for i in range(workspaces)]
    ci = {"computeType": "ComputeInstance", "properties": {"vmSize": "STANDARD_DS3_V2", "idleTimeBeforeShutdown": "PT60M"}}
    spec = {
        "subscriptions": [{"id": SUB, "region": "eastus"}],
        "resource_groups": [{"id": rg, "location": "eastus"}],
        "workspaces": [{"id": ws, "location": "eastus", "computes": [{"name": f"ci-{i}-{j:03d}", "properties": ci} for j in range(instances)]} for i, ws in enumerate(ids)],
    }
    return spec, ids


def test_two_fleet_runs_on_the_workers_share_one_subscriptions_budget(env: Env, deployed: Team) -> None:
    spec, ids = _fleet(2, 150)  # 300 stops: 100 past the write burst of 200, so the budget binds
    env.control.load(spec)
    mark = env.control.mark()
    runs = [deployed.start_run("stop-computes", "weekdays-berlin-stop", {"selector": {"workspaces": [ws]}}) for ws in ids]
    assert [deployed.wait(run, FINAL, timeout=300) for run in runs] == ["Completed", "Completed"], deployed.worker_logs()[-4000:]
    requests = env.control.requests(mark)
    stops = [r for r in requests if r["method"] == "POST" and r["path"].endswith("/stop")]
    assert len([r for r in stops if r["status"] in (200, 202)]) == 300
    assert [r for r in requests if r["status"] == 429] == [], "two processes, one budget, no 429"
    spans = [deployed.call("GET", f"/flow_runs/{run}") for run in runs]
    assert max(s["start_time"] for s in spans) < min(s["end_time"] for s in spans), "the two runs overlapped"
