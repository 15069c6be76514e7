"""The 08:00 start: 1,000 stopped compute instances in 20 workspaces of one subscription started at once,
each start taking as long as Azure takes (~90 s in the SDK teams' recorded sessions: FACTS.md).

The floor is what ARM and Azure allow: 200 writes at once, then 10 a second (the last start sent after
(1,000 - 200) / 10 = 80 s), and that last instance's own 90 s start. Reported against it: the time until
every instance is Running (the flow returns only when every operation it sent has ended), 429 responses,
and the instances the rules keep from starting (a selector's exclusion; already Running counts as done).

Goals: starts <= 1.1x the floor, no 429.
"""

from __future__ import annotations

import sys
import time
from typing import Any

SUB = "78787878-7878-7878-7878-787878787878"
WORKSPACES, PER_WORKSPACE, START_SECONDS = 20, 50, 90.0
QUICK = (2, 5, 1.0)  # --quick: workspaces, instances each, seconds a start takes: a smoke run, not a measurement
BURST, RATE = 200, 10.0  # ARM's write budget per subscription (amlops/emulator/throttle.py)
EXCLUDED = "ci-00-00"  # the selector excludes it: it must stay Stopped
ALREADY = "ci-00-01"  # already Running: counted as done, not started again


def _ws(i: int) -> str:
    return f"/subscriptions/{SUB}/resourceGroups/fleet/providers/Microsoft.MachineLearningServices/workspaces/team-{i:02d}"


def scenario(workspaces: int = WORKSPACES, per_workspace: int = PER_WORKSPACE) -> dict[str, Any]:
    ci = {"computeType": "ComputeInstance", "properties": {"vmSize": "STANDARD_DS3_V2", "idleTimeBeforeShutdown": "PT60M"}}

    def instance(i: int, j: int) -> dict[str, Any]:
        name = f"ci-{i:02d}-{j:02d}"
        return {"name": name, "properties": ci, "state": "Running" if name == ALREADY else "Stopped"}

    return {
        "subscriptions": [{"id": SUB, "region": "eastus"}],
        "resource_groups": [{"id": f"/subscriptions/{SUB}/resourceGroups/fleet", "location": "eastus"}],
        "workspaces": [{"id": _ws(i), "location": "eastus", "computes": [instance(i, j) for j in range(per_workspace)]} for i in range(workspaces)],
    }


def floor_seconds(starts: int, start_seconds: float) -> float:
    """The burst at once, the rest at the refill rate, then the last start's own duration."""
    return max(0, starts - BURST) / RATE + start_seconds


def main(quick: bool = False) -> dict[str, float]:
    workspaces, per_workspace, start_seconds = QUICK if quick else (WORKSPACES, PER_WORKSPACE, START_SECONDS)
    from bench.common import goal_line, local_prefect

    local_prefect()
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

    from amlops.emulator import Emulator
    from amlops.fleet import Selector
    from bench.common import pointed_at
    from bench.move_workspace import warm_up
    from flows.compute_power import start_computes

    with Emulator(scenario_spec=scenario(workspaces, per_workspace)) as emu, pointed_at(emu.env()), temporary_settings({PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
        emu.state.settings.lro = {"default": {"mode": "immediate"}, "compute.start": {"mode": "seconds", "seconds": start_seconds}}
        warm_up()
        emu.throttler.reset()  # the run starts with a full budget, as the floor assumes
        first = len(emu.log.entries)
        started = time.perf_counter()
        report = start_computes(selector=Selector(subscriptions=[SUB], exclude=[EXCLUDED]))
        wall = time.perf_counter() - started
        run = emu.log.entries[first:]
        states = {c["name"]: c["properties"]["properties"].get("state") for c in emu.state.store.of_type("Microsoft.MachineLearningServices/workspaces/computes")}
    throttled = sum(1 for e in run if e["status"] == 429)
    starts = sum(1 for e in run if e["method"] == "POST" and e["path"].endswith("/start") and e["status"] in (200, 202))
    running = sum(1 for s in states.values() if s == "Running")
    floor = floor_seconds(starts, start_seconds)
    fleet = workspaces * per_workspace
    print(f"start {fleet} instances across {workspaces} workspaces, each start {start_seconds:.0f} s: {report.counts}")
    print(f"  start requests accepted         {starts:8d}")
    print(f"  Running at the end              {running:8d}     (the excluded {EXCLUDED} {states.get(EXCLUDED)}, {ALREADY} was already Running)")
    print(f"  wall time, until all Running    {wall:8.1f} s")
    print(f"  floor (write budget + a start)  {floor:8.1f} s   (max(0, {starts} - {BURST}) / {RATE:.0f} per s + {start_seconds:.0f} s)")
    print(f"  requests in the run             {len(run):8d}     ({sum(1 for e in run if e['kind'] == 'reads')} reads)")
    print(goal_line("starts", wall / floor, 1.1))
    print(goal_line("429s", throttled, 0))
    assert states.get(EXCLUDED) == "Stopped", "the selector's exclusion was started"
    return {"wall": wall, "floor": floor, "throttled": throttled, "starts": starts, "running": running}


if __name__ == "__main__":
    main("--quick" in sys.argv[1:])
