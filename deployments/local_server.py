"""Prefect's temporary local server (SQLite), started from a database migrated once per install.

A fresh SQLite database costs the server Prefect's whole chain of migrations and its block registration at every
start: about half of the ~10 CPU seconds a start takes. The first server on an install migrates as before and,
once it answers, leaves a copy of its still-empty database beside the virtual environment (one per Prefect
version); every later server starts from a copy of that. Prefect still runs its migrations and block registration
at start, which find nothing to do, so a stale or foreign copy is brought up to date as a fresh one would be.
Processes that start at the same moment (the suite's workers) wait for the first one's copy instead of each
migrating their own.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import sqlite3
import sys
from collections.abc import Iterator
from importlib.metadata import version
from pathlib import Path

SQLITE = "sqlite+aiosqlite:///"


def cached_database() -> Path:
    """Where this install keeps its migrated, empty database (``make clean`` removes it with the venv)."""
    return Path(sys.prefix) / "amlops-cache" / f"prefect-{version('prefect')}.db"


def start(timeout: float = 180) -> str:
    """Start this process's temporary Prefect server, the one its flows use when no PREFECT_API_URL is set, from
    the cached database; returns its API URL (for processes started from here). A second call returns the first
    server's URL."""
    from prefect.server.api.server import SubprocessASGIServer
    from prefect.settings import get_current_settings

    server = SubprocessASGIServer()
    if server.running:
        return server.api_url
    url = get_current_settings().server.database.connection_url
    raw = url.get_secret_value() if url is not None else ""
    if not raw.startswith(SQLITE):  # a database of the user's own: nothing to seed
        server.start(timeout=int(timeout))
        return server.api_url
    database, cache = Path(raw.removeprefix(SQLITE)), cached_database()
    with _locked(cache):
        fresh = not cache.exists()
        if not fresh and not database.exists():
            database.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(cache, database)
        server.start(timeout=int(timeout))
        if fresh and database.exists():
            _publish(database, cache)
    return server.api_url


@contextlib.contextmanager
def _locked(cache: Path) -> Iterator[None]:
    cache.parent.mkdir(parents=True, exist_ok=True)
    with open(cache.with_suffix(".lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _publish(database: Path, cache: Path) -> None:
    """A consistent copy of the just-migrated database (SQLite's online backup: the server keeps running)."""
    partial = cache.with_suffix(f".{os.getpid()}.partial")
    source, copy = sqlite3.connect(database), sqlite3.connect(partial)
    try:
        source.backup(copy)
    finally:
        copy.close()
        source.close()
    os.replace(partial, cache)
