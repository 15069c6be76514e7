"""Flow runs as the Prefect server records them, and deployment runs started the way the UI starts them:
shared by the tests of suspensions and approvals."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from uuid import UUID

from prefect.client.orchestration import get_client
from prefect.client.schemas.objects import FlowRun
from prefect.deployments import run_deployment

ROOT = Path(__file__).parents[2]


def state_name(run_id: UUID) -> str:
    with get_client(sync_client=True) as client:
        state = client.read_flow_run(run_id).state
    return (state.name or "") if state else ""


def history(run_id: UUID) -> list[str]:
    """The names of the run's states, oldest first."""
    with get_client(sync_client=True) as client:
        return [s.name or "" for s in sorted(client.read_flow_run_states(run_id), key=lambda s: s.timestamp)]


def wait_for(run_id: UUID, names: set[str], log: Path, timeout: float = 120) -> str:
    """The run's state once it is one of ``names``; the runner's log tail if it never gets there."""
    deadline = time.monotonic() + timeout
    while (name := state_name(run_id)) not in names:
        assert time.monotonic() < deadline, f"run stayed {name}, expected one of {names}:\n{log.read_text()[-3000:]}"
        time.sleep(0.5)
    return name


@contextmanager
def served(serve: str, env: dict[str, str], log: Path) -> Iterator[None]:
    """A runner process serving a deployment (``serve`` is the Python it runs), its output in ``log``."""
    runner = subprocess.Popen([sys.executable, "-c", serve], cwd=ROOT, env=env, stdout=open(log, "w"), stderr=subprocess.STDOUT)
    try:
        yield
    finally:
        runner.terminate()
        runner.wait(timeout=30)


def start_run(deployment: str, parameters: dict[str, Any], log: Path, within: float = 90) -> FlowRun:
    """A run of ``deployment``, once the runner has registered it (retried until then, ``within`` seconds)."""
    deadline = time.monotonic() + within
    while True:
        try:
            run = run_deployment(deployment, parameters=parameters, timeout=0)
            break
        except Exception:  # noqa: BLE001 - the deployment appears once the runner has registered it
            assert time.monotonic() < deadline, log.read_text()[-2000:]
            time.sleep(1)
    assert isinstance(run, FlowRun), "called from sync code, run_deployment returns the run itself"
    return run
