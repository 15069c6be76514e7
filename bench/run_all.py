"""Run every benchmark in turn; each prints its own figures and ratios."""

from __future__ import annotations

from bench import emulator_roundtrip, fleet_stop, move_workspace, snapshot, training_recovery

if __name__ == "__main__":
    emulator_roundtrip.main()
    print()
    move_workspace.main()
    print()
    fleet_stop.main()
    print()
    training_recovery.main()
    print()
    snapshot.main()
