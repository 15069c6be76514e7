"""Run every benchmark in turn; each prints its own figures and ratios, then how long it took.

`python -m bench.run_all --quick` runs each in its shortest form: a smoke run that proves the benchmarks
still work end to end (the suite runs it), not a measurement. Names after the options run only those
benchmarks (`python -m bench.run_all --quick move_chaos flow_chaos`).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable

from bench import (
    emulator_roundtrip,
    fleet_platform,
    fleet_start,
    fleet_stop,
    flow_chaos,
    move_chaos,
    move_downtime,
    move_workspace,
    recording,
    snapshot,
    training_recovery,
)

# Each benchmark in the order `make bench` runs them, with the arguments of its full and of its --quick form.
BENCHMARKS: dict[str, Callable[[bool], object]] = {
    "emulator_roundtrip": emulator_roundtrip.main,
    "move_workspace": move_workspace.main,
    "move_downtime": move_downtime.main,
    "fleet_stop": fleet_stop.main,
    "fleet_start": fleet_start.main,
    "training_recovery": training_recovery.main,
    "snapshot": snapshot.main,
    "recording": recording.main,
    "move_chaos": lambda quick: move_chaos.main(1, (True,)) if quick else move_chaos.main(10),
    "flow_chaos": lambda quick: flow_chaos.main(1, ("stop", "snapshot"), (0.2,), quick=True) if quick else flow_chaos.main(20),
    "fleet_platform": fleet_platform.main,  # last: a Prefect server on PostgreSQL with two workers (10,000 stops at full size)
}


def main(args: list[str]) -> int:
    quick = "--quick" in args
    names = [a for a in args if a != "--quick"] or list(BENCHMARKS)
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        print(f"unknown benchmark(s) {unknown}; the benchmarks: {', '.join(BENCHMARKS)}", file=sys.stderr)
        return 2
    for name in names:
        started = time.monotonic()
        BENCHMARKS[name](quick)
        print(f"({name}: {time.monotonic() - started:.0f} s)\n", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
