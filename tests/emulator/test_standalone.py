"""`amlops emulator` standalone: it prints the export lines first, then serves what they point at."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from amlops.azure import workspaces
from amlops.azure.clients import Clients, Target
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
        proc.wait(timeout=10)
