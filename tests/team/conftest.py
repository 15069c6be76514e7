"""The team tier: PostgreSQL, a Prefect server with API authentication, and two process workers on one pool.

Started once for the tier (a session fixture) and shared by its tests, as a team shares one server.
Everything a test does to it goes through the commands a person would type (`prefect deploy --all`,
`amlops approve`) or the REST API, with the team's credentials.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from amlops.emulator import Emulator
from amlops.postgres import LocalPostgres, free_port
from tests.conftest import AZURITE_KEY

ROOT = Path(__file__).parents[2]
POOL = "amlops-pool"
AUTH = "team:s3cret-for-tests"  # the tier's own throwaway credentials
FINAL = {"Completed", "Failed", "Crashed", "Cancelled"}


@dataclass
class Team:
    api: str
    env: dict[str, str]  # what a team member's shell has: the server, its credentials, the state store
    logs: Path
    workers: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def http(self) -> httpx.Client:
        user, password = AUTH.split(":", 1)
        return httpx.Client(base_url=self.api, auth=(user, password), timeout=30)

    def call(self, method: str, path: str, body: Any = None) -> Any:
        with self.http() as client:
            response = client.request(method, path, json=body)
        response.raise_for_status()
        return response.json() if response.content else None

    def run(self, *command: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
        """A command in a team member's shell; fails the test with its output when it fails."""
        done = subprocess.run(list(command), cwd=ROOT, env=self.env, capture_output=True, text=True, timeout=timeout)
        assert done.returncode == 0, f"{command} exited {done.returncode}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
        return done

    def deployment(self, flow: str, name: str) -> dict[str, Any]:
        return self.call("GET", f"/deployments/name/{flow}/{name}")

    def start_run(self, flow: str, name: str, parameters: dict[str, Any]) -> str:
        deployment = self.deployment(flow, name)
        return str(self.call("POST", f"/deployments/{deployment['id']}/create_flow_run", {"parameters": parameters})["id"])

    def state(self, run_id: str) -> str:
        run = self.call("GET", f"/flow_runs/{run_id}")
        return run["state"]["name"] if run.get("state") else ""

    def wait(self, run_id: str, names: set[str], timeout: float = 240) -> str:
        deadline = time.monotonic() + timeout
        while (name := self.state(run_id)) not in names:
            assert time.monotonic() < deadline, f"run {run_id} stayed {name}, expected one of {names}\n{self.worker_logs()[-4000:]}"
            time.sleep(0.5)
        return name

    def log_of(self, worker: str) -> str:
        path = self.logs / f"{worker}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def worker_logs(self) -> str:
        return "\n".join(f"--- {w}\n{self.log_of(w)}" for w in sorted(self.workers))

    def submitted_by(self, run_id: str) -> list[str]:
        """The workers that started a process for the run, in order: a resumed run is submitted again."""
        found = self.call("POST", "/events/filter", {"filter": {"event": {"name": ["prefect.worker.submitted-flow-run"]}, "any_resource": {"id": [f"prefect.flow-run.{run_id}"]}}, "limit": 50})
        return [e["resource"]["prefect.resource.name"] for e in sorted(found["events"], key=lambda e: e["occurred"])]

    def start_worker(self, name: str) -> None:
        log = open(self.logs / f"{name}.log", "a")
        command = [sys.executable, "-m", "prefect", "worker", "start", "--pool", POOL, "--name", name, "--type", "process"]
        # Its own session, so stopping it also ends the flow-run processes it started.
        self.workers[name] = subprocess.Popen(command, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 60
        while f"Worker '{name}' started" not in self.log_of(name) and "started!" not in self.log_of(name):
            assert self.workers[name].poll() is None and time.monotonic() < deadline, self.log_of(name)[-3000:]
            time.sleep(0.3)

    def stop_worker(self, name: str) -> None:
        proc = self.workers[name]
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)


def _wait_healthy(url: str, proc: subprocess.Popen[bytes], log: Path, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        assert proc.poll() is None and time.monotonic() < deadline, log.read_text(errors="replace")[-3000:]
        time.sleep(0.3)


@pytest.fixture(scope="session")
def team_db() -> Iterator[str]:
    """PostgreSQL from Debian's packages in a temporary directory, run as the unprivileged postgres user."""
    directory = Path(tempfile.mkdtemp(prefix="amlops-pg-"))
    db = LocalPostgres(directory / "cluster")
    with db as url:
        yield url


@pytest.fixture(scope="session")
def team(team_db: str, emulator: Emulator, azurite: str) -> Iterator[Team]:
    home = Path(tempfile.mkdtemp(prefix="amlops-team-"))
    port = free_port()
    api = f"http://127.0.0.1:{port}/api"
    base = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    server_env = {
        **base,
        "PREFECT_HOME": str(home / "server"),
        "PREFECT_SERVER_DATABASE_CONNECTION_URL": team_db,
        "PREFECT_SERVER_API_AUTH_STRING": AUTH,
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_SERVER_UI_ENABLED": "false",
    }
    log = home / "server.log"
    server = subprocess.Popen(
        [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1", "--port", str(port)],
        cwd=home, env=server_env, stdout=open(log, "w"), stderr=subprocess.STDOUT, start_new_session=True,
    )
    team_env = {
        **base,
        **emulator.env(),
        "PREFECT_HOME": str(home / "client"),
        "PREFECT_API_URL": api,
        "PREFECT_API_AUTH_STRING": AUTH,
        "PREFECT_WORKER_QUERY_SECONDS": "1",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "AMLOPS_STATE_URL": f"{azurite}/amlops-state",
        "AMLOPS_STATE_KEY": AZURITE_KEY,
        "AMLOPS_BLOB_URL": azurite,
        "AMLOPS_BLOB_KEY": AZURITE_KEY,
    }
    team = Team(api, team_env, home)
    try:
        _wait_healthy(api, server, log)
        team.run(sys.executable, "-m", "prefect", "work-pool", "create", POOL, "--type", "process", "--overwrite")
        for name in ("w1", "w2"):
            team.start_worker(name)
        yield team
    finally:
        for name in list(team.workers):
            team.stop_worker(name)
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)


@pytest.fixture(scope="session")
def deployed(team: Team) -> Team:
    """Every deployment registered the way the README says: the fleet variable, then `prefect deploy --all`."""
    from tests.conftest import SUB

    team.run(sys.executable, "-m", "prefect", "variable", "set", "amlops_fleet_subscriptions", f'["{SUB}"]', "--overwrite")
    team.run(sys.executable, "-m", "prefect", "--no-prompt", "deploy", "--all")
    return team
