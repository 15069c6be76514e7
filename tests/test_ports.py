"""Servers the project starts end up on a port of their own, even when the port first chosen for them is
taken before they bind it (another helper's server, on a busy machine, took it in between).

Each test makes that happen on purpose: the first "free" port handed out is one a stranger already
listens on, and the stranger answers every HTTP request with 200, as another Prefect server's /health would.
"""

from __future__ import annotations

import http.server
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

import amlops.postgres
import deployments.stack
from amlops.emulator.azurite import Azurite
from amlops.postgres import LocalPostgres
from deployments.stack import _stop, start_prefect_server
from tests import prefect_db


class _Stranger(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A port a stranger listens on, answering 200 to anything."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Stranger)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


def _first_then_free(port: int) -> Callable[[], int]:
    handed = iter([port])
    real = amlops.postgres.free_port
    return lambda: next(handed, None) or real()


def test_a_prefect_server_whose_port_was_taken_starts_on_another(taken_port: int, tmp_path: Path, prefect_migrated: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(deployments.stack, "free_port", _first_then_free(taken_port))
    prefect_db.copy_into(prefect_migrated, tmp_path / "home", "prefect.db")  # its database: the run's migrated empty one
    env = {"PATH": "/usr/bin:/bin", "PREFECT_HOME": str(tmp_path / "home"), "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
    process, port = start_prefect_server(env, tmp_path / "server.log", timeout=120)
    try:
        assert port != taken_port
        assert process.poll() is None, "the started server is alive"
        assert httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=10).json() is True  # Prefect's answer, not the stranger's
    finally:
        _stop(process)


def test_postgres_whose_port_was_taken_starts_on_another(taken_port: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(amlops.postgres, "free_port", _first_then_free(taken_port))
    directory = Path(tempfile.mkdtemp(prefix="amlops-pg-"))  # pytest's tmp_path is closed to the postgres user
    db = LocalPostgres(directory / "cluster")
    assert db.port == taken_port
    try:
        with db as url:
            assert f":{taken_port}/" not in url
            assert db._psql("prefect", "SELECT 1") == "1"
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def test_azurite_binds_a_port_the_system_picks_and_reports_it() -> None:
    first, second = Azurite(), Azurite()
    with first as one, second as two:
        assert one != two
        for url in (one, two):
            assert httpx.get(f"{url}?comp=list", timeout=10).status_code in (200, 403)
