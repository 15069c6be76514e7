"""One migrated Prefect database per test run, copied for each Prefect server the suite starts on SQLite.

A server on an empty SQLite file first runs every migration Prefect has: about 6 of the 10 CPU-seconds its start
costs. The suite starts one such server per xdist worker (the harness), plus the browser tier's. So the
migrations run once per run (`prefect server database upgrade`, under a file lock the workers share), and each
server starts on a copy of the result: the same schema, and as empty as a fresh server's, since the
migrations are all a fresh server has done before it serves.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

NAME = "prefect-migrated.db"


def template(directory: Path) -> Path:
    """The migrated database in ``directory`` (shared by the run's workers), made by the first worker to ask."""
    path = directory / NAME
    with open(directory / f"{NAME}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not path.exists():
            partial = directory / f"{NAME}.partial"
            partial.unlink(missing_ok=True)
            env = {**os.environ, "PREFECT_SERVER_DATABASE_CONNECTION_URL": f"sqlite+aiosqlite:///{partial}", "PREFECT_HOME": str(directory / "prefect-home")}
            done = subprocess.run([sys.executable, "-m", "prefect", "server", "database", "upgrade", "-y"], env=env, capture_output=True, text=True, timeout=300)
            assert done.returncode == 0 and partial.exists(), f"migrating a Prefect database failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}"
            partial.rename(path)
    return path


def copy_into(migrated: Path, directory: Path, name: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    return Path(shutil.copyfile(migrated, directory / name))


@contextlib.contextmanager
def harness(migrated: Path) -> Iterator[None]:
    """Prefect's `prefect_test_harness` (its server on a temporary SQLite file), with that file a copy of ``migrated``:
    the harness names its file in the directory `mkdtemp` gives it, so that directory comes with the copy."""
    import prefect.testing.utilities as utilities

    def migrated_dir() -> str:
        directory = tempfile.mkdtemp()
        copy_into(migrated, Path(directory), "prefect-test.db")
        return directory

    assert utilities.mkdtemp is tempfile.mkdtemp, "prefect_test_harness no longer takes its directory from mkdtemp"
    with contextlib.ExitStack() as stack:
        utilities.mkdtemp = migrated_dir  # type: ignore[assignment]  # only while the harness starts its server
        try:
            stack.enter_context(utilities.prefect_test_harness(server_startup_timeout=240))
        finally:
            utilities.mkdtemp = tempfile.mkdtemp
        yield
