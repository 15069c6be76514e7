"""Prefect's temporary local server (SQLite), started from a database migrated once per install.

A fresh SQLite database costs the server Prefect's whole chain of migrations and its block registration at every
start: about half of the ~10 CPU seconds a start takes. The first server on an install migrates and registers
Prefect's block types as before and, once it answers, leaves a copy of its still-empty database beside the virtual
environment (one per Prefect version); every later server starts from a copy of that. Prefect still runs its
migrations at start, which find nothing to do, so a stale copy is brought up to date as a fresh one would be; the
block registration, which would find nothing to do either (about 1 CPU second: every block type compared with its
row), is skipped on a copy (``REGISTERED``). Processes that start at the same moment (the suite's workers) wait
for the first one's copy instead of each migrating their own.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import hashlib
import importlib.util
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from importlib.metadata import entry_points, version
from pathlib import Path
from typing import Any

SQLITE = "sqlite+aiosqlite:///"
# A server whose database is a copy of the cache finds Prefect's block types there already (the server that left it
# registered them): it skips registering them again, and the memo Prefect keeps to skip it (which costs as much).
REGISTERED = {"PREFECT_SERVER_REGISTER_BLOCKS_ON_START": "false", "PREFECT_SERVER_MEMOIZE_BLOCK_AUTO_REGISTRATION": "false"}


def registered_settings() -> dict[Any, bool]:
    """``REGISTERED`` as Prefect settings, for `temporary_settings` around a server Prefect itself starts."""
    import prefect.settings

    return {getattr(prefect.settings, name): False for name in REGISTERED}


def cached_database() -> Path:
    """Where this install keeps its migrated, empty database (``make clean`` removes it with the venv): one per
    Prefect version and set of Prefect collections installed beside it (their block types are in it)."""
    collections = sorted(f"{e.name}={e.value}" for e in entry_points(group="prefect.collections"))
    blocks = hashlib.sha256("\n".join(collections).encode()).hexdigest()[:8]
    return Path(sys.prefix) / "amlops-cache" / f"prefect-{version('prefect')}-{blocks}.db"


def migrated_database() -> Path:
    """The install's migrated, empty database with Prefect's block types, for servers started some other way (the
    suite's test harness copies it, with ``REGISTERED``): left by a server started and stopped here when no server
    has left one yet."""
    cache = cached_database()
    if cache.exists():
        return cache
    scratch = Path(tempfile.mkdtemp(prefix="amlops-migrate-"))
    database = scratch / "prefect.db"
    with seeded(f"{SQLITE}{database}") as copied:
        if not copied:  # no server left one meanwhile: this one migrates and registers, then stops
            env = {**os.environ, "PREFECT_SERVER_DATABASE_CONNECTION_URL": f"{SQLITE}{database}", "PREFECT_HOME": str(scratch / "home")}
            stop(spawn(scratch / "home", env, timeout=300)[1])
    if not cache.exists():
        return database  # an install that cannot be written to keeps its copy here
    shutil.rmtree(scratch, ignore_errors=True)
    return cache


def start(timeout: float = 180) -> str:
    """Start this process's Prefect server from the cached database and point the process (and the processes it
    starts) at it through PREFECT_API_URL; returns that URL. With PREFECT_API_URL already set, nothing starts.

    Called before Prefect is imported, the server is Prefect's own temporary-server app in a process of its own,
    on a port it binds itself, and this process's flows reach it as any client does, without importing Prefect's
    server code (about 2 CPU seconds a process). Called later, it starts Prefect's own temporary server (the one
    flows use when no URL is set), from the same cached database."""
    if os.environ.get("PREFECT_API_URL"):
        return os.environ["PREFECT_API_URL"]
    if "prefect" in sys.modules:
        return _start_in_prefect(timeout)
    home = Path(os.environ.get("PREFECT_HOME") or Path.home() / ".prefect")
    url = os.environ.get("PREFECT_SERVER_DATABASE_CONNECTION_URL") or os.environ.get("PREFECT_API_DATABASE_CONNECTION_URL") or f"{SQLITE}{home}/prefect.db"
    with seeded(url) as copied:
        api, process = spawn(home, {**os.environ, **(REGISTERED if copied else {})}, timeout)
    atexit.register(stop, process)
    os.environ["PREFECT_API_URL"] = api
    return api


def _start_in_prefect(timeout: float) -> str:
    from prefect.settings import get_current_settings, temporary_settings

    settings = get_current_settings()
    if settings.api.url:
        return str(settings.api.url)
    from prefect.server.api.server import SubprocessASGIServer  # only now: Prefect's server code costs 1.5 CPU-s to import

    server = SubprocessASGIServer()
    if not server.running:
        url = settings.server.database.connection_url
        with seeded(url.get_secret_value() if url is not None else "") as copied:
            with temporary_settings(registered_settings() if copied else {}):
                server.start(timeout=int(timeout))
    return server.api_url


def spawn(home: Path, env: dict[str, str], timeout: float) -> tuple[str, subprocess.Popen[bytes]]:
    """Prefect's temporary-server app under uvicorn in ``env``, serving a socket bound here on a port the system
    chose (no other process can take it in between); returns its API URL and its process."""
    spec = importlib.util.find_spec("prefect")
    assert spec is not None and spec.origin is not None, "Prefect is not installed"
    home.mkdir(parents=True, exist_ok=True)
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        api = f"http://127.0.0.1:{listener.getsockname()[1]}/api"
        command = [sys.executable, "-m", "uvicorn", "--app-dir", str(Path(spec.origin).parents[1]), "--factory", "prefect.server.api.server:create_app",
                   "--fd", str(listener.fileno()), "--log-level", "error", "--lifespan", "on"]  # fmt: skip
        env = {**env, "PREFECT_UI_ENABLED": "0", "PREFECT__SERVER_EPHEMERAL": "1", "PREFECT__SERVER_FINAL": "1"}
        with open(home / "server.log", "ab") as log:
            process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, pass_fds=(listener.fileno(),))
    deadline = time.monotonic() + timeout
    while not _healthy(api):
        if process.poll() is not None or time.monotonic() > deadline:
            stop(process)
            raise RuntimeError(f"Prefect's server did not start within {timeout:.0f} s:\n{(home / 'server.log').read_text(errors='replace')[-3000:]}")
        time.sleep(0.1)
    return api, process


def _healthy(api: str) -> bool:
    try:
        with urllib.request.urlopen(f"{api}/health", timeout=5) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextlib.contextmanager
def seeded(url: str) -> Iterator[bool]:
    """Around the start of a Prefect server on database ``url`` (any server: this module's, `prefect server start`):
    a SQLite database not there yet is copied from the cache, and the context says so (True: start the server with
    ``REGISTERED``); with no cache yet, the server that starts inside migrates its own and leaves a copy once started
    (servers starting meanwhile wait for it). Where the install cannot be written to, every server migrates its own,
    as Prefect does."""
    if not url.startswith(SQLITE):  # a database of the user's own: nothing to seed
        yield False
        return
    database, cache = Path(url.removeprefix(SQLITE)), cached_database()
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        lock = open(cache.with_suffix(".lock"), "a")
    except OSError:
        yield False
        return
    with lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        fresh = not cache.exists()
        copied = not fresh and not database.exists()
        if copied:
            database.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(cache, database)
        yield copied
        if fresh and database.exists():
            _publish(database, cache)


def _publish(database: Path, cache: Path) -> None:
    """A consistent copy of the just-migrated database (SQLite's online backup: the server keeps running)."""
    partial = cache.with_suffix(f".{os.getpid()}.partial")
    try:
        source, copy = sqlite3.connect(database), sqlite3.connect(partial)
        try:
            source.backup(copy)
        finally:
            copy.close()
            source.close()
        os.replace(partial, cache)
    except (OSError, sqlite3.Error):  # no copy this time: the next server migrates its own and tries again
        partial.unlink(missing_ok=True)
