"""deployments/local_server.py: a Prefect server's SQLite database copied from the install's cache, the first one
published to it. Plain SQLite files stand in for Prefect's database here; the demo and every benchmark start real
servers through it (tests/test_commands.py)."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import pytest

from deployments import local_server

pytestmark = pytest.mark.unit


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "cache" / "prefect-x.db"
    monkeypatch.setattr(local_server, "cached_database", lambda: path)
    return path


def _migrate(database: Path, marker: str) -> None:
    """What a server starting on an empty database does: create its tables."""
    with sqlite3.connect(database) as db:
        db.execute("create table alembic_version (version_num text)")
        db.execute("insert into alembic_version values (?)", (marker,))


def _version(database: Path) -> str:
    with sqlite3.connect(database) as db:
        return str(db.execute("select version_num from alembic_version").fetchone()[0])


def test_the_first_server_publishes_its_database_and_the_next_starts_from_a_copy(tmp_path: Path, cache: Path) -> None:
    first, second = tmp_path / "a" / "prefect.db", tmp_path / "b" / "prefect.db"
    first.parent.mkdir()
    with local_server.seeded(f"{local_server.SQLITE}{first}") as copied:
        assert not first.exists() and not cache.exists() and not copied, "the first server registers Prefect's block types"
        _migrate(first, "head-1")
    assert _version(cache) == "head-1"
    with local_server.seeded(f"{local_server.SQLITE}{second}") as copied:
        assert _version(second) == "head-1", "the second server must find the migrated database before it starts"
        assert copied, "a copy's server skips registering block types the copy has (local_server.REGISTERED)"
    with sqlite3.connect(second) as db:
        db.execute("update alembic_version set version_num = 'changed'")
    assert _version(cache) == "head-1", "a server writes to its own copy, never to the cache"


def test_a_database_already_there_is_left_as_it_is(tmp_path: Path, cache: Path) -> None:
    cache.parent.mkdir()
    _migrate(cache, "cached")
    own = tmp_path / "prefect.db"
    _migrate(own, "own")
    with local_server.seeded(f"{local_server.SQLITE}{own}") as copied:
        assert not copied, "a database of its own may lack block types: its server registers them"
    assert _version(own) == "own"


def test_a_database_of_the_users_own_is_not_touched(cache: Path) -> None:
    with local_server.seeded("postgresql+asyncpg://u:p@127.0.0.1:5432/prefect") as copied:
        assert not copied
    assert not cache.exists() and not cache.parent.exists()


def test_servers_starting_together_wait_for_the_first_ones_copy(tmp_path: Path, cache: Path) -> None:
    first, second = tmp_path / "a.db", tmp_path / "b.db"
    seen: list[str] = []

    def later() -> None:
        with local_server.seeded(f"{local_server.SQLITE}{second}"):
            seen.append(_version(second))

    with local_server.seeded(f"{local_server.SQLITE}{first}"):
        waiting = threading.Thread(target=later)
        waiting.start()
        time.sleep(0.3)  # the second is blocked on the lock while the first migrates
        assert not seen and not second.exists()
        _migrate(first, "head-2")
    waiting.join(timeout=10)
    assert seen == ["head-2"]


def test_an_install_that_cannot_be_written_to_leaves_each_server_to_migrate_its_own(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocked = tmp_path / "not-a-directory"
    blocked.write_text("")
    monkeypatch.setattr(local_server, "cached_database", lambda: blocked / "prefect-x.db")
    database = tmp_path / "prefect.db"
    with local_server.seeded(f"{local_server.SQLITE}{database}"):
        _migrate(database, "own")
    assert _version(database) == "own"

