"""What AMLOPS_RECORD costs a run: the demo move, requests per second without and with recording, alternated so
that both modes meet the same machine, and the recorder's own time per exchange (sanitising and writing); then the
worst case, a loop of nothing but compute listings (the largest bodies a move reads), recorded and not.

Goal: recording costs a move at most 10% of its request rate.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from collections.abc import Callable
from typing import Any

SUB, TARGET_SUB = "11111111-1111-1111-1111-111111111111", "22222222-2222-2222-2222-222222222222"
WS = f"/subscriptions/{SUB}/resourceGroups/ml-prod/providers/Microsoft.MachineLearningServices/workspaces/ml-prod-ws"


def _move(emu: Any, record_to: str | None) -> tuple[int, float]:
    """One demo move from a freshly loaded scenario: (requests the emulator answered, seconds)."""
    from amlops.emulator import scenario
    from amlops.emulator.control_client import EmulatorControl
    from flows.move_workspace import move_workspace
    from tasks import common

    control = EmulatorControl(emu.base_url, str(emu.ca_file))
    control.load(scenario.read(scenario.DEMO))
    control.settings(throttle={"enabled": False})
    if record_to:
        os.environ["AMLOPS_RECORD"] = record_to
    else:
        os.environ.pop("AMLOPS_RECORD", None)
    os.environ["AMLOPS_STATE_DIR"] = tempfile.mkdtemp(prefix="amlops-bench-")  # a new move, not the last one resumed
    common.clients.cache_clear()
    mark = control.mark()
    started = time.perf_counter()
    report = move_workspace(
        source=WS, target_subscription=TARGET_SUB, target_resource_group="ml-moved", approve_plan_as="bench", confirm_workspace="ml-prod-ws",
        approve_private_endpoints_as="bench", approval_poll_seconds=1,
    )  # fmt: skip
    seconds = time.perf_counter() - started
    assert report.status == "completed", report
    return len(control.requests(mark)), seconds


def _timed(hook: Callable[[Any], None], spent: list[float]) -> Callable[[Any], None]:
    def timed(response: Any) -> None:
        started = time.perf_counter()
        hook(response)
        spent.append(time.perf_counter() - started)

    return timed


def main(quick: bool = False) -> dict[str, float]:
    from bench.common import local_prefect, pointed_at

    local_prefect()
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

    from amlops.azure import recording
    from amlops.emulator import Emulator
    from bench.move_workspace import warm_up

    rounds = 1 if quick else 7
    rates: dict[str, list[float]] = {"off": [], "on": []}
    spent: list[float] = []
    entries = 0
    with Emulator() as emu, pointed_at(emu.env()), temporary_settings({PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
        warm_up()
        _move(emu, None)  # the first move warms the SDK clients' imports and Prefect's caches
        for _ in range(rounds):
            n, s = _move(emu, None)
            rates["off"].append(n / s)
            directory = tempfile.mkdtemp(prefix="amlops-recording-")
            os.environ["AMLOPS_RECORD"] = directory
            rec = recording.recorder()
            assert rec is not None
            rec.hook = _timed(rec.hook, spent)  # type: ignore[method-assign,assignment]  # measure the hook the clients are given
            n, s = _move(emu, directory)
            rec.flush()
            rates["on"].append(n / s)
            entries += n
        os.environ.pop("AMLOPS_RECORD", None)
        loop_off, loop_on = _listing_loop(emu, 10 if quick else 200, rounds)
    off, on = statistics.median(rates["off"]), statistics.median(rates["on"])
    per_exchange = sum(spent) / max(len(spent), 1)
    print(f"recording a demo move (AMLOPS_RECORD), median of {rounds} alternated rounds:")
    print(f"  requests/s without recording   {off:8.1f}")
    print(f"  requests/s with recording      {on:8.1f}")
    print(f"  ratio with/without             {on / off:8.2f}x   goal >= 0.90x: {'met' if on / off >= 0.9 else 'MISSED'}")
    print(f"  recorder's time per exchange   {per_exchange * 1e6:8.0f} us   ({len(spent)} exchanges recorded, {entries} answered)")
    print("worst case, compute listings back to back (same process as the emulator):")
    print(f"  requests/s without recording   {loop_off:8.1f}")
    print(f"  requests/s with recording      {loop_on:8.1f}")
    print(f"  ratio with/without             {loop_on / loop_off:8.2f}x")
    return {"off": off, "on": on, "per_exchange": per_exchange, "loop_off": loop_off, "loop_on": loop_on}


def _listing_loop(emu: Any, calls: int, rounds: int) -> tuple[float, float]:
    """Median requests/s of ``calls`` compute listings, without and with recording, alternated ``rounds`` times."""
    from amlops.azure import computes
    from amlops.azure.clients import Clients, Target
    from amlops.emulator import scenario
    from amlops.emulator.control_client import EmulatorControl
    from amlops.models import ResourceId

    EmulatorControl(emu.base_url, str(emu.ca_file)).load(scenario.read(scenario.DEMO))
    target, ws = Target("emulator", emu.base_url, str(emu.ca_file)), ResourceId.parse(WS)
    plain = Clients(target)
    os.environ["AMLOPS_RECORD"] = tempfile.mkdtemp(prefix="amlops-recording-")
    recorded = Clients(target)
    os.environ.pop("AMLOPS_RECORD", None)
    rates: dict[str, list[float]] = {"off": [], "on": []}
    for _ in range(rounds):
        for mode, clients in (("off", plain), ("on", recorded)):
            started = time.perf_counter()
            for _ in range(calls):
                computes.list_computes(clients, ws)
            rates[mode].append(calls / (time.perf_counter() - started))
    return statistics.median(rates["off"]), statistics.median(rates["on"])


if __name__ == "__main__":
    main()
