"""Run every benchmark in turn; each prints its own figures and ratios.

`python -m bench.run_all --quick` runs each in its shortest form: a smoke run that proves the benchmarks
still work end to end (the suite runs it), not a measurement.
"""

from __future__ import annotations

import sys

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

if __name__ == "__main__":
    quick = "--quick" in sys.argv[1:]
    emulator_roundtrip.main(quick)
    print()
    move_workspace.main(quick)
    print()
    move_downtime.main(quick)
    print()
    fleet_stop.main(quick)
    print()
    fleet_start.main(quick)
    print()
    training_recovery.main(quick)
    print()
    snapshot.main(quick)
    print()
    recording.main(quick)
    print()
    move_chaos.main(1 if quick else 10)
    print()
    flow_chaos.main(1, ("stop", "snapshot"), (0.2,)) if quick else flow_chaos.main(20)
    print()
    fleet_platform.main(quick)  # last: a Prefect server on PostgreSQL with two workers (10,000 stops at full size)
