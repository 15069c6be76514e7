"""`amlops emulator` standalone: it prints the export lines first, then serves what they point at."""

from __future__ import annotations

import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

from amlops.azure import workspaces
from amlops.azure.clients import Clients, Target
from amlops.emulator.control_client import EmulatorControl
from amlops.models import ResourceId
from tests.conftest import DEMO, WS_ID

ROOT = Path(__file__).parents[2]


def test_amlops_emulator_prints_exports_then_serves_the_scenario() -> None:
    proc = subprocess.Popen([sys.executable, "-m", "app.cli", "emulator", "--port", "0", "--scenario", str(DEMO)], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        lines = [proc.stdout.readline().strip() for _ in range(3)]
        assert all(line.startswith("export AMLOPS_") for line in lines), lines
        env = dict(line.removeprefix("export ").split("=", 1) for line in lines)
        clients = Clients(Target.from_env(env))
        assert workspaces.get_workspace(clients, ResourceId.parse(WS_ID)).location == "westeurope"
    finally:
        proc.terminate()
        code = proc.wait(timeout=10)
    # Stopped as a supervisor or `kill` stops it (SIGTERM): it ends as after Ctrl-C, its certificate and key removed.
    assert code == 0 and not Path(env["AMLOPS_EMULATOR_CA"]).parent.exists()


def test_amlops_emulator_speed_runs_its_clock_that_fast_and_tells_the_clients() -> None:
    proc = subprocess.Popen([sys.executable, "-m", "app.cli", "emulator", "--port", "0", "--speed", "60"], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        lines = [proc.stdout.readline().strip() for _ in range(4)]
        env = dict(line.removeprefix("export ").split("=", 1) for line in lines)
        assert env["AMLOPS_TIME_SCALE"] == "60", lines  # the clients wait and pace as fast as the clock runs
        control = EmulatorControl(env["AMLOPS_EMULATOR_URL"], env["AMLOPS_EMULATOR_CA"])
        before = datetime.fromisoformat(control.call("POST", "clock/advance", {"seconds": 0})["now"])
        time.sleep(0.5)
        after = datetime.fromisoformat(control.call("POST", "clock/advance", {"seconds": 0})["now"])
        assert (after - before).total_seconds() >= 30  # half a real second is half an emulated minute (at least)
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_amlops_emulator_refuses_a_speed_that_is_not_positive() -> None:
    done = subprocess.run([sys.executable, "-m", "app.cli", "emulator", "--port", "0", "--speed", "0"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "--speed must be a positive number" in done.stderr
    assert done.stdout == ""  # nothing served, no export lines
