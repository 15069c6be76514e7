"""The team tier: PostgreSQL, a Prefect server with API authentication, and two process workers on one pool.

Started once for the tier and shared by its tests, as a team shares one server; stopped as soon as the tier's
last test is done (package-scoped fixtures: under xdist the tier's tests run one after another on one worker,
and its workers would otherwise poll the server until the whole run ends).
Everything a test does to it goes through the commands a person would type (`prefect deploy --all`,
`amlops approve`) or the REST API, with the team's credentials.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from amlops.emulator import Emulator
from amlops.postgres import LocalPostgres
from deployments.stack import POOL, ROOT, Stack
from tests.conftest import AZURITE_KEY
from tests.team.services import Services
from tests.warm_cli import WarmCli

AUTH = "team:s3cret-for-tests"  # the tier's own throwaway credentials
# A worker machine has Python with amlops' dependencies, not the checkout: the test venv's editable install
# of amlops (a finder mapping amlops, flows, tasks, ... to the checkout) is removed from the workers' Python,
# so a flow run can only import the code its pull step cloned.
WITHOUT_CHECKOUT = f"""\
import sys
sys.meta_path[:] = [f for f in sys.meta_path if not getattr(f, "__module__", "").startswith("__editable___amlops")]
sys.path_hooks[:] = [h for h in sys.path_hooks if not getattr(h, "__module__", "").startswith("__editable___amlops")]
sys.path[:] = [p for p in sys.path if p != {str(ROOT)!r}]
"""


@dataclass(frozen=True)
class Source:
    """The team's repository as workers see it: a bare clone of this checkout's commits, and the commit to run."""

    url: str
    revision: str


def bare_clone(directory: Path) -> Source:
    """A bare clone of the checkout's repository in ``directory`` (file:// URL): what workers pull, committed code only."""
    revision = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()
    subprocess.run(["git", "clone", "--quiet", "--bare", str(ROOT), str(directory / "amlops.git")], check=True, capture_output=True)
    return Source(f"file://{directory / 'amlops.git'}", revision)
FINAL = {"Completed", "Failed", "Crashed", "Cancelled"}


@dataclass
class Team:
    stack: Stack
    source: Source
    _warm: WarmCli | None = None

    @property
    def api(self) -> str:
        return self.stack.api

    @property
    def env(self) -> dict[str, str]:
        return self.stack.env

    @property
    def workers(self) -> dict[str, Any]:
        return self.stack.workers

    def http(self) -> httpx.Client:
        user, password = AUTH.split(":", 1)
        return httpx.Client(base_url=self.api, auth=(user, password), timeout=30)

    def call(self, method: str, path: str, body: Any = None) -> Any:
        with self.http() as client:
            response = client.request(method, path, json=body)
        response.raise_for_status()
        return response.json() if response.content else None

    def run(self, *command: str, timeout: float = 240, env_extra: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        """A command in a team member's shell; fails the test with its output when it fails."""
        done = subprocess.run(list(command), cwd=ROOT, env={**self.env, **(env_extra or {})}, capture_output=True, text=True, timeout=timeout)
        assert done.returncode == 0, f"{command} exited {done.returncode}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
        return done

    def amlops(self, *args: str, expect: int = 0, env_extra: dict[str, str] | None = None, timeout: float = 240) -> str:
        """`amlops ARGS` in a team member's shell: the real command's `main`, in a process forked from a warm one
        started in that shell (tests/warm_cli.py), so a call pays no interpreter and imports of its own. Its output
        (stdout and stderr); fails the test with it unless it exits ``expect``."""
        if self._warm is None:
            self._warm = WarmCli(self.env)
        log = Path(tempfile.mkstemp(prefix="amlops-", suffix=".log", dir=self.stack.home)[1])
        code = self._warm.run(list(args), env_extra or {}, log, timeout)
        out = log.read_text(errors="replace")
        assert code == expect, f"amlops {' '.join(args)} exited {code}, not {expect}:\n{out[-4000:]}"
        return out

    def close(self) -> None:
        if self._warm is not None:
            self._warm.close()

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

    def waits_for(self, run_id: str) -> list[str]:
        """What a suspended run asks for, as `amlops pending` reads it: the titles of its form's fields."""
        keyset = self.call("GET", f"/flow_runs/{run_id}")["state"]["state_details"].get("run_input_keyset") or {}
        deadline = time.monotonic() + 30
        while True:  # Prefect sets the Suspended state first and saves the form's schema just after: wait for it
            try:
                schema = self.call("GET", f"/flow_runs/{run_id}/input/{keyset['schema']}")
                break
            except httpx.HTTPStatusError as err:
                if err.response.status_code != 404 or time.monotonic() > deadline:
                    raise
                time.sleep(0.3)
        return [field.get("title", name) if name.startswith("c_") else name for name, field in (schema.get("properties") or {}).items() if name not in ("approver", "reason", "approve", "description")]

    def worker_logs(self) -> str:
        return "\n".join(f"--- {w}\n{self.stack.log_of(w)}" for w in sorted(self.workers))

    def submitted_by(self, run_id: str) -> list[str]:
        """The workers that started a process for the run, in order: a resumed run is submitted again."""
        found = self.call("POST", "/events/filter", {"filter": {"event": {"name": ["prefect.worker.submitted-flow-run"]}, "any_resource": {"id": [f"prefect.flow-run.{run_id}"]}}, "limit": 50})
        return [e["resource"]["prefect.resource.name"] for e in sorted(found["events"], key=lambda e: e["occurred"])]

    def start_worker(self, name: str) -> None:
        self.stack.start_worker(name)

    def stop_worker(self, name: str) -> None:
        self.stack.stop_worker(name)


@pytest.fixture(scope="package")
def team_db() -> Iterator[str]:
    """PostgreSQL from Debian's packages in a temporary directory, run as the unprivileged postgres user."""
    directory = Path(tempfile.mkdtemp(prefix="amlops-pg-"))
    try:
        with LocalPostgres(directory / "cluster") as url:
            yield url
    finally:
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture(scope="package")
def services() -> Iterator[Services]:
    """hooks.slack.com and api.sendgrid.com, as the team's server reaches them (tests.team.services)."""
    found = Services()
    yield found
    found.stop()


@pytest.fixture(scope="package")
def team(team_db: str, emulator: Emulator, azurite: str, services: Services) -> Iterator[Team]:
    flows_need = {
        **emulator.env(),
        "AMLOPS_STATE_URL": f"{azurite}/amlops-state",
        "AMLOPS_STATE_KEY": AZURITE_KEY,
        "AMLOPS_BLOB_URL": azurite,
        "AMLOPS_BLOB_KEY": AZURITE_KEY,
    }
    home = Path(tempfile.mkdtemp(prefix="amlops-team-"))
    site = home / "worker-site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(WITHOUT_CHECKOUT)
    # Each worker in an empty directory of its own, away from the checkout (no shared path).
    workers, repository_dir = Path(tempfile.mkdtemp(prefix="amlops-workers-")), Path(tempfile.mkdtemp(prefix="amlops-repo-"))
    stack = Stack(home, team_db, AUTH, flows_need, worker_dir=workers, worker_env={"PYTHONPATH": str(site)}, server_env=services.env())
    team: Team | None = None
    try:
        # The tier's slowest start goes first in its worker: what needs no server (the repository workers clone)
        # is made while the server starts, and the two workers start side by side.
        with ThreadPoolExecutor(2) as pool:
            repository = pool.submit(bare_clone, repository_dir)
            stack.start_server()
            team = Team(stack, repository.result())
            team.run(sys.executable, "-m", "prefect", "work-pool", "create", POOL, "--type", "process", "--overwrite")
            list(pool.map(stack.start_worker, ("w1", "w2")))
        yield team
    finally:
        if team is not None:
            team.close()
        with ThreadPoolExecutor(2) as pool:  # each worker gets up to 30 s to stop cleanly: side by side
            list(pool.map(stack.stop_worker, list(stack.workers)))
        stack.stop()
        for directory in (home, workers, repository_dir):
            shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture(scope="package")
def deployed(team: Team) -> Team:
    """Every deployment registered the way the README says: where workers clone the code, the fleet variable,
    then `prefect deploy --all`."""
    from tests.conftest import SUB

    with ThreadPoolExecutor(2) as pool:  # two variables, set side by side
        source = pool.submit(team.amlops, "source", "--git-repository", team.source.url, "--git-revision", team.source.revision)
        fleet = pool.submit(team.run, sys.executable, "-m", "prefect", "variable", "set", "amlops_fleet_subscriptions", f'["{SUB}"]', "--overwrite")
        source.result(), fleet.result()
    team.run(sys.executable, "-m", "prefect", "--no-prompt", "deploy", "--all")
    return team


@pytest.fixture(autouse=True)
def clock_follows_real_time(request: pytest.FixtureRequest) -> None:
    """Workers, Prefect's polls and the flows wait in real time; so does the emulator's clock here (the `env`
    fixture freezes it for tests whose outcome must not hang on the machine's speed)."""
    if "env" in request.fixturenames:
        request.getfixturevalue("env").control.freeze(False)
