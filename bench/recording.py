"""What AMLOPS_RECORD costs a run: the demo move, requests per second without and with recording, alternated so
that both modes meet the same machine, and the recorder's own time per exchange (sanitising and writing); then the
worst case, a loop of nothing but compute listings (the largest bodies a move reads), recorded and not.

On a shared machine wall time swings with the neighbours' load, so each figure is also given per second of this
process's CPU (client, recorder and the in-process emulator): that ratio is the recorder's cost.
Goal: recording costs a move at most 10% of its requests per CPU second.
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable
from typing import Any

from bench.common import scratch

SUB, TARGET_SUB = "11111111-1111-1111-1111-111111111111", "22222222-2222-2222-2222-222222222222"
WS = f"/subscriptions/{SUB}/resourceGroups/ml-prod/providers/Microsoft.MachineLearningServices/workspaces/ml-prod-ws"


def _move(emu: Any, record_to: str | None) -> tuple[int, float, float]:
    """One demo move from a freshly loaded scenario: (requests the emulator answered, wall seconds, CPU seconds)."""
    from amlops.emulator import scenario
    from amlops.emulator.control_client import EmulatorControl
    from amlops.move import MoveApprovals, MoveRequest
    from flows.move_workspace import move_workspace
    from tasks import common

    control = EmulatorControl(emu.base_url, str(emu.ca_file))
    control.load(scenario.read(scenario.DEMO))
    control.settings(throttle={"enabled": False})
    if record_to:
        os.environ["AMLOPS_RECORD"] = record_to
    else:
        os.environ.pop("AMLOPS_RECORD", None)
    os.environ["AMLOPS_STATE_DIR"] = str(scratch("amlops-bench-"))  # a new move, not the last one resumed
    common.clients.cache_clear()
    mark = control.mark()
    started, cpu = time.perf_counter(), time.process_time()
    report = move_workspace(
        MoveRequest(source=WS, target_subscription=TARGET_SUB, target_resource_group="ml-moved"),
        MoveApprovals(approve_plan_as="bench", confirm_workspace="ml-prod-ws", approve_private_endpoints_as="bench", poll_seconds=1),
    )
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    assert report.status == "completed", report
    return len(control.requests(mark)), seconds, cpu


def _timed(hook: Callable[[Any], None], spent: list[float]) -> Callable[[Any], None]:
    def timed(response: Any) -> None:
        started = time.perf_counter()
        hook(response)
        spent.append(time.perf_counter() - started)

    return timed


Rates = dict[str, dict[str, list[float]]]  # mode -> "wall"/"cpu" -> requests per second, one per round


def _new_rates() -> Rates:
    return {mode: {"wall": [], "cpu": []} for mode in ("off", "on")}


def main(quick: bool = False) -> dict[str, float]:
    from bench.common import local_prefect, pointed_at

    local_prefect()
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

    from amlops.azure import recording
    from amlops.emulator import Emulator
    from bench.move_workspace import warm_up

    rounds = 1 if quick else 7
    moves, spent = _new_rates(), list[float]()
    with Emulator() as emu, pointed_at(emu.env()), temporary_settings({PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
        warm_up()
        if not quick:  # a smoke run needs no warm figures
            _move(emu, None)  # the first move warms the SDK clients' imports and Prefect's caches
        for i in range(rounds):
            for mode in ("off", "on") if i % 2 == 0 else ("on", "off"):  # neither mode always goes first
                directory = str(scratch("amlops-recording-")) if mode == "on" else None
                if directory:
                    os.environ["AMLOPS_RECORD"] = directory
                    rec = recording.recorder()
                    assert rec is not None
                    rec.hook = _timed(rec.hook, spent)  # type: ignore[method-assign,assignment]  # measure the hook the clients are given
                n, wall, cpu = _move(emu, directory)
                moves[mode]["wall"].append(n / wall)
                moves[mode]["cpu"].append(n / cpu)
        os.environ.pop("AMLOPS_RECORD", None)
        loops = _listing_loop(emu, 10 if quick else 100, rounds)
    print(f"recording a demo move (AMLOPS_RECORD), median of {rounds} alternated rounds:")
    figures = _print(moves, goal=0.9)
    print(f"  recorder's time per exchange   {statistics.median(spent) * 1e6:8.0f} us median, {sum(spent) / max(len(spent), 1) * 1e6:.0f} us mean ({len(spent)} exchanges)")
    print("worst case, compute listings back to back (the emulator in the same process):")
    loop = _print(loops)
    return {**figures, "per_exchange": statistics.median(spent), **{f"loop_{k}": v for k, v in loop.items()}}


def _print(rates: Rates, goal: float | None = None) -> dict[str, float]:
    med = {f"{mode}_{kind}": statistics.median(rates[mode][kind]) for mode in rates for kind in ("wall", "cpu")}
    for kind, label in (("wall", "requests/s (wall)"), ("cpu", "requests per CPU second")):
        off, on = med[f"off_{kind}"], med[f"on_{kind}"]
        verdict = f"   goal >= {goal:.2f}x: {'met' if on / off >= goal else 'MISSED'}" if goal is not None and kind == "cpu" else ""
        print(f"  {label:25s} without {off:7.1f}   with {on:7.1f}   ratio {on / off:5.2f}x{verdict}")
    return med


def _listing_loop(emu: Any, calls: int, rounds: int) -> Rates:
    """``calls`` compute listings, without and with recording, alternated ``rounds`` times."""
    from amlops.azure import computes
    from amlops.azure.clients import Clients, Target
    from amlops.emulator import scenario
    from amlops.emulator.control_client import EmulatorControl
    from amlops.models import ResourceId

    control = EmulatorControl(emu.base_url, str(emu.ca_file))
    control.load(scenario.read(scenario.DEMO))
    control.settings(throttle={"enabled": False})  # the client's rate, not ARM's budget
    target, ws = Target("emulator", emu.base_url, str(emu.ca_file)), ResourceId.parse(WS)
    plain = Clients(target)
    os.environ["AMLOPS_RECORD"] = str(scratch("amlops-recording-"))
    recorded = Clients(target)
    os.environ.pop("AMLOPS_RECORD", None)
    rates = _new_rates()
    for i in range(rounds):
        for mode, clients in (("off", plain), ("on", recorded)) if i % 2 == 0 else (("on", recorded), ("off", plain)):
            started, cpu = time.perf_counter(), time.process_time()
            for _ in range(calls):
                computes.list_computes(clients, ws)
            rates[mode]["wall"].append(calls / (time.perf_counter() - started))
            rates[mode]["cpu"].append(calls / (time.process_time() - cpu))
    return rates


if __name__ == "__main__":
    main()
