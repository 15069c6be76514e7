"""What every benchmark shares: pointing amlops at the benchmark's own emulator, and back again."""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path


def scratch(prefix: str) -> Path:
    """A temporary directory of this benchmark process, removed when the process ends: after the Prefect server
    that may live in it stops (atexit runs what was registered last first)."""
    directory = Path(tempfile.mkdtemp(prefix=prefix))
    atexit.register(shutil.rmtree, directory, ignore_errors=True)
    return directory


def local_prefect() -> str:
    """This process's Prefect server, started now and shared by every benchmark the process runs (their flows
    and the commands they start, given its URL): Prefect's own temporary server, in a directory of its own,
    started from the install's migrated database (deployments/local_server.py). Returns its API URL. On a loaded
    machine it can take longer than Prefect's default 20 s to start, and a benchmark should measure, not give up."""
    if "PREFECT_HOME" not in os.environ:
        os.environ["PREFECT_HOME"] = str(scratch("amlops-bench-"))
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")  # its start-up write races the server's own
    from deployments import local_server

    return local_server.start(timeout=180)


@contextlib.contextmanager
def pointed_at(env: dict[str, str]) -> Iterator[None]:
    """Point amlops (the environment and the process's cached clients) at this run's emulator, and
    restore both afterwards: the next benchmark must not reach for an emulator that has stopped and
    deleted its certificate."""
    from amlops.rehearsal import environment_restored
    from tasks import common

    with environment_restored(env):
        os.environ.update(env)
        common.clients.cache_clear()
        try:
            yield
        finally:
            common.clients.cache_clear()


@contextlib.contextmanager
def emulator_process(scenario: Path, throttled: bool = True) -> Iterator[tuple[str, str]]:
    """The emulator in its own process, as operators run it: the server gets its own core and GIL, and the
    client measured here pays only for itself. Yields its URL and CA file; ``throttled=False`` measures the
    server without ARM's budget."""
    from amlops.emulator.control_client import EmulatorControl

    proc = subprocess.Popen([sys.executable, "-m", "app.cli", "emulator", "--port", "0", "--scenario", str(scenario)], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None  # stdout=PIPE
        exports = (proc.stdout.readline().removeprefix("export ").strip() for _ in range(3))
        env = dict(line.split("=", 1) for line in exports)
        if not throttled:
            EmulatorControl(env["AMLOPS_EMULATOR_URL"], env["AMLOPS_EMULATOR_CA"]).settings(throttle={"enabled": False})
        yield env["AMLOPS_EMULATOR_URL"], env["AMLOPS_EMULATOR_CA"]
    finally:
        proc.terminate()
        proc.wait()


def goal_line(name: str, value: float, goal: float) -> str:
    """One line per goal, the same form in every benchmark, so anyone can check them at a glance:
    ``goal downtime: 1.07x (goal <=1.1x)``; counts (429s) print whole."""
    shown = f"{value}" if isinstance(value, int) else f"{value:.2f}"
    return f"goal {name}: {shown}x (goal <={goal:g}x)"
