"""A team's Prefect stack on one machine: a server on PostgreSQL with API authentication, process workers.

What the README's "Running it for a team" commands start, as a class the team test tier and the
platform benchmark use: each piece is the real command (`prefect server start`, `prefect worker start`)
in its own process group, so stopping a worker also ends the flow-run processes it started.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from amlops.postgres import free_port

ROOT = Path(__file__).parents[1]
POOL = "amlops-pool"


def _stop(proc: subprocess.Popen[bytes], timeout: float = 30) -> None:
    if proc.poll() is not None:
        return
    os.killpg(proc.pid, signal.SIGTERM)  # Prefect turns SIGTERM into SIGINT and shuts down cleanly
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


@dataclass
class Stack:
    home: Path  # PREFECT_HOME of the server and clients, and the processes' logs
    database_url: str
    auth: str  # user:password for PREFECT_SERVER_API_AUTH_STRING / PREFECT_API_AUTH_STRING
    extra_env: dict[str, str] = field(default_factory=dict)  # what flows on the workers need (Azure target, state store)
    port: int = field(default_factory=free_port)
    worker_dir: Path | None = None  # each worker starts in its own empty directory under it (else in the checkout)
    worker_env: dict[str, str] = field(default_factory=dict)  # what only the workers get (a machine of their own)
    server: subprocess.Popen[bytes] | None = None
    workers: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    @property
    def api(self) -> str:
        return f"http://127.0.0.1:{self.port}/api"

    def _base(self) -> dict[str, str]:
        return {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}

    @property
    def env(self) -> dict[str, str]:
        """A team member's shell: the server, its credentials, what the flows need."""
        return {
            **self._base(),
            **self.extra_env,
            "PREFECT_HOME": str(self.home / "client"),
            "PREFECT_API_URL": self.api,
            "PREFECT_API_AUTH_STRING": self.auth,
            "PREFECT_UI_URL": f"http://127.0.0.1:{self.port}",
            "PREFECT_WORKER_QUERY_SECONDS": "1",
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        }

    def log_of(self, name: str) -> str:
        path = self.home / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def start_server(self, timeout: float = 120) -> None:
        env = {
            **self._base(),
            "PREFECT_HOME": str(self.home / "server"),
            "PREFECT_SERVER_DATABASE_CONNECTION_URL": self.database_url,
            "PREFECT_SERVER_API_AUTH_STRING": self.auth,
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "PREFECT_UI_URL": f"http://127.0.0.1:{self.port}",
        }
        command = [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1", "--port", str(self.port)]
        log = open(self.home / "server.log", "w")
        self.server = subprocess.Popen(command, cwd=self.home, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout
        while True:
            try:
                if httpx.get(f"{self.api}/health", timeout=2).status_code == 200:  # health answers without credentials
                    return
            except httpx.HTTPError:
                pass
            if self.server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the Prefect server did not start:\n" + self.log_of("server")[-3000:])
            time.sleep(0.3)

    def start_worker(self, name: str, *options: str, timeout: float = 60) -> None:
        command = [sys.executable, "-m", "prefect", "worker", "start", "--pool", POOL, "--name", name, "--type", "process", *options]
        log = open(self.home / f"{name}.log", "a")
        cwd = ROOT
        if self.worker_dir is not None:
            cwd = self.worker_dir / name
            cwd.mkdir(parents=True, exist_ok=True)
        self.workers[name] = proc = subprocess.Popen(command, cwd=cwd, env={**self.env, **self.worker_env}, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout
        while f"Worker '{name}' started" not in self.log_of(name):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"worker {name} did not start:\n" + self.log_of(name)[-3000:])
            time.sleep(0.3)

    def stop_worker(self, name: str) -> None:
        _stop(self.workers[name])

    def stop(self) -> None:
        for name in list(self.workers):
            self.stop_worker(name)
        if self.server is not None:
            _stop(self.server)
