"""Chaos: `amlops move` SIGKILLed at random moments (inside long-running operations, sometimes twice), run
again, and judged from the emulator. Prints the trials, how many ended consistent (moved with everything
back, or restored with everything it had; the workspace in exactly one place), and the time a killed move
needs to finish after its restart against an undisturbed move measured in the same run.

    python -m bench.move_chaos [--trials 10]
"""

from __future__ import annotations

import argparse
import statistics

from bench.common import local_prefect, pointed_at, scratch
from tests import chaos


def main(trials: int = 10, modes: tuple[bool, ...] = (False, True)) -> dict[str, float]:
    """``modes``: kills only (False), kills and faults (True); ``--quick`` runs one trial of the second, which
    goes through every path of the first (a smoke run, not a measurement)."""
    work_dir = scratch("amlops-chaos-")
    prefect_api = local_prefect()
    from amlops.emulator import Emulator
    from amlops.emulator.control_client import EmulatorControl
    from tests.conftest import demo_scenario, make_clients

    with Emulator() as emulator, pointed_at(emulator.env()):
        control = EmulatorControl(emulator.base_url, str(emulator.ca_file))
        clients = make_clients(emulator, control, [])
        launcher = chaos.Launcher(chaos.cli_env(prefect_api))
        try:
            scenario = demo_scenario()
            writes, total = chaos.undisturbed(control, launcher, scenario, work_dir)
            results = {
                faults: [chaos.run_trial(control, clients, launcher, scenario, 2000 + i, faults, writes, work_dir) for i in range(trials)]
                for faults in modes
            }
        finally:
            launcher.close()
    print("move-workspace under random SIGKILLs (demo workspace; writes ~0.4 s, the move ~3 s)")
    print(f"  undisturbed move            {total:8.2f} s   ({writes} writes, each a moment a kill may follow)")
    figures: dict[str, float] = {"undisturbed": total}
    for faults, ran in results.items():
        label = "kills + 10% 429/503" if faults else "kills only"
        consistent = sum(t.consistent for t in ran)
        recovery = [t.recovery_seconds for t in ran]
        median = statistics.median(recovery)
        print(f"  {label:<20} trials {len(ran):3d}, kills {sum(len(t.kills) for t in ran):3d}, consistent {consistent}/{len(ran)} "
              f"({sum(t.end == 'moved' for t in ran)} moved, {sum(t.end == 'restored' for t in ran)} restored)")
        print(f"  {'':<20} finish after restart: median {median:6.2f} s, max {max(recovery):6.2f} s; "
              f"median/undisturbed {median / total:5.2f}x")
        for t in ran:
            if not t.consistent:
                print(f"    seed {t.seed}: kills {t.kills}, exits {t.exits}: {t.end}")
        figures[f"consistent_{'faults' if faults else 'kills'}"] = consistent / len(ran)
        figures[f"recovery_{'faults' if faults else 'kills'}"] = median
    return figures


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=10)
    main(parser.parse_args().trials)
