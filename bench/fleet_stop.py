"""Stop 1,000 compute instances across 20 workspaces under ARM's write budget.

Emulator: 1 s stop latency; writes 200 burst then 10 per second per subscription. Reports wall time
against the floor that budget sets (goal: at most 1.2x), 429 responses (goal: near zero, by pacing),
and the speed-up over stopping them one after another as a shell loop would (measured on a sample of
the same fleet in the same run, then scaled to 1,000).
"""

from __future__ import annotations

import time
from typing import Any

SUB = "77777777-7777-7777-7777-777777777777"
WORKSPACES, PER_WORKSPACE, STOP_SECONDS, SAMPLE = 20, 50, 1.0, 15
BURST, RATE = 200, 10.0


def _ws(i: int) -> str:
    return f"/subscriptions/{SUB}/resourceGroups/fleet/providers/Microsoft.MachineLearningServices/workspaces/team-{i:02d}"


def scenario(workspaces: int = WORKSPACES, per_workspace: int = PER_WORKSPACE) -> dict[str, Any]:
    ci = {"computeType": "ComputeInstance", "properties": {"vmSize": "STANDARD_DS3_V2", "idleTimeBeforeShutdown": "PT60M"}}
    return {
        "subscriptions": [{"id": SUB, "region": "eastus"}],
        "resource_groups": [{"id": f"/subscriptions/{SUB}/resourceGroups/fleet", "location": "eastus"}],
        "workspaces": [{"id": _ws(i), "location": "eastus", "computes": [{"name": f"ci-{i:02d}-{j:02d}", "properties": ci} for j in range(per_workspace)]} for i in range(workspaces)],
    }


def floor_seconds(n: int) -> float:
    """The least time the write budget allows: the burst at once, the rest at the refill rate, plus one stop."""
    return max(0, n - BURST) / RATE + STOP_SECONDS


def main(quick: bool = False) -> dict[str, float]:
    """``quick``: 2 workspaces of 5 instances (a smoke run, not a measurement)."""
    workspaces, per_workspace, sample = (2, 5, 3) if quick else (WORKSPACES, PER_WORKSPACE, SAMPLE)
    from bench.common import local_prefect

    local_prefect()
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

    from amlops.azure import computes
    from amlops.azure.clients import Clients
    from amlops.emulator import Emulator
    from amlops.fleet import Selector
    from amlops.models import ResourceId
    from bench.common import pointed_at
    from bench.move_workspace import warm_up
    from flows.compute_power import stop_computes

    with Emulator(scenario_spec=scenario(workspaces, per_workspace)) as emu, pointed_at(emu.env()), temporary_settings({PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
        emu.state.settings.lro = {"default": {"mode": "immediate"}, "compute.stop": {"mode": "seconds", "seconds": STOP_SECONDS}}
        warm_up()

        # Baseline: one after another, waiting for each, as `for c in ...; do az ml compute stop ...; done` would.
        clients, sample_ws = Clients(), ResourceId.parse(_ws(workspaces - 1))
        started = time.perf_counter()
        for j in range(sample):
            computes.stop_compute(clients, sample_ws, f"ci-{workspaces - 1:02d}-{j:02d}")
        per_stop = (time.perf_counter() - started) / sample
        emu.throttler.reset()  # the fleet run starts with a full budget, as the floor assumes
        first = len(emu.log.entries)

        started = time.perf_counter()
        report = stop_computes(selector=Selector(subscriptions=[SUB]))
        wall = time.perf_counter() - started
        run = emu.log.entries[first:]
        throttled = sum(1 for e in run if e["status"] == 429)
        # The re-read before each stop: one GET of the instance, one list of the workspace's jobs.
        rechecks = sum(1 for e in run if e["method"] == "GET" and (e["path"].rstrip("/").rsplit("/", 2)[-2].lower() == "computes" or e["path"].lower().endswith("/jobs")))
        reads = sum(1 for e in run if e["kind"] == "reads")
    stopped = report.counts.get("stopped", 0)
    floor = floor_seconds(stopped)
    fleet = workspaces * per_workspace
    sequential = per_stop * fleet
    print(f"stop {fleet} instances across {workspaces} workspaces: {report.counts}")
    print(f"  wall time                       {wall:8.1f} s")
    print(f"  floor set by the write budget   {floor:8.1f} s   (burst {BURST}, {RATE:.0f}/s, {STOP_SECONDS:.0f} s per stop)")
    print(f"  ratio wall/floor                {wall / floor:8.2f}x   goal <= 1.2x: {'met' if wall / floor <= 1.2 else 'MISSED'}")
    print(f"  429 responses                   {throttled:8d}     goal: near zero")
    print(f"  reads in the run                {reads:8d}     of which re-reads just before a stop: {rechecks} ({rechecks / max(1, stopped):.1f} per stop)")
    print(f"  read floor (250 burst, 25/s)    {max(0, reads - 250) / 25:8.1f} s   must stay under the write floor for the re-reads to cost no time")
    print(f"  sequential loop, per stop       {per_stop:8.2f} s   (measured on {sample} instances of the same fleet)")
    print(f"  sequential loop, {fleet:,} stops    {sequential:8.0f} s   (scaled)")
    print(f"  speed-up over the loop          {sequential / wall:8.1f}x")
    return {"wall": wall, "floor": floor, "throttled": throttled, "sequential": sequential, "reads": reads, "rechecks": rechecks}


if __name__ == "__main__":
    main()
