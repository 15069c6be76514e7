"""A team's Prefect stack on one machine: a server on PostgreSQL with API authentication, process workers.

What the README's "Running it for a team" commands start, as a class the team test tier and the
platform benchmark use: each piece is the real command (`prefect server start`, `prefect worker start`)
in its own process group, so stopping a worker also ends the flow-run processes it started.
"""

from __future__ import annotations

import os
import re
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
# A worker takes a scheduled run this long before it is due and starts its process then (the git clone, the
# imports of Prefect, amlops and the Azure SDKs: 5-25 s measured on a loaded 2-core machine, bench/fleet_platform.py);
# Prefect's server holds the ready process until the scheduled time (WaitForScheduledTime), so the 19:00 stop
# starts at 19:00, not a start-up later. It must exceed the start-up plus the worker's poll (10 s by default).
WORKER_PREFETCH_SECONDS = 45


def start_prefect_server(env: dict[str, str], log: Path, cwd: Path = ROOT, timeout: float = 120, attempts: int = 5) -> tuple[subprocess.Popen[bytes], int]:
    """`prefect server start` on a loopback port, in its own process group; returns the process and its port.

    The port must be known before the server starts (the UI and notifications link to it), so it is a free
    one chosen just before; another process may take it in between on a busy machine. So the server counts as
    started only once its own log says uvicorn bound that port (an answer from the port alone could come from
    someone else's server), and a server that could not bind is started again on another port.
    """
    for attempt in range(1, attempts + 1):
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        env_port = {**env, "PREFECT_UI_URL": url, "PREFECT_UI_API_URL": f"{url}/api", "PREFECT_SERVER_LOGGING_LEVEL": "INFO"}
        command = [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1", "--port", str(port)]
        with open(log, "a") as out:
            process = subprocess.Popen(command, cwd=cwd, env=env_port, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        bound = re.compile(rf"Uvicorn running on {re.escape(url)}\b")
        deadline = time.monotonic() + timeout
        while not bound.search(text := log.read_text(errors="replace")):
            if process.poll() is not None:
                if "already in use" in text.lower() and attempt < attempts:  # Prefect checks first, uvicorn when it binds
                    break
                raise RuntimeError(f"the Prefect server did not start:\n{text[-3000:]}")
            if time.monotonic() > deadline:
                _stop(process)
                raise RuntimeError(f"the Prefect server did not start within {timeout:.0f} s:\n{text[-3000:]}")
            time.sleep(0.3)
        else:
            _wait_healthy(f"{url}/api", process, deadline)
            return process, port
    raise RuntimeError(f"the Prefect server found no free port in {attempts} attempts")


def _wait_healthy(api: str, process: subprocess.Popen[bytes], deadline: float) -> None:
    while True:
        try:
            if httpx.get(f"{api}/health", timeout=2).status_code == 200:  # health answers without credentials
                return
        except httpx.HTTPError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            _stop(process)
            raise RuntimeError(f"the Prefect server at {api} did not answer /health")
        time.sleep(0.3)


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
    port: int = 0  # chosen when the server starts
    worker_dir: Path | None = None  # each worker starts in its own empty directory under it (else in the checkout)
    worker_env: dict[str, str] = field(default_factory=dict)  # what only the workers get (a machine of their own)
    server_env: dict[str, str] = field(default_factory=dict)  # what only the server gets (its way out: a proxy, trusted CAs)
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
            **self.server_env,
        }
        self.server, self.port = start_prefect_server(env, self.home / "server.log", cwd=self.home, timeout=timeout)

    def start_worker(self, name: str, *options: str, timeout: float = 60) -> None:
        prefetch = ["--prefetch-seconds", str(WORKER_PREFETCH_SECONDS)]  # options given later win
        command = [sys.executable, "-m", "prefect", "worker", "start", "--pool", POOL, "--name", name, "--type", "process", *prefetch, *options]
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
