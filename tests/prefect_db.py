"""Each Prefect server the suite starts on SQLite starts on a copy of the install's migrated database
(deployments/local_server.migrated_database): a server on an empty file first runs every migration Prefect has and
registers its block types, more than half of what its start costs, and the suite starts one per xdist worker (the
harness), plus the browser tier's and a few more. The copy has the same schema and block types, and is as empty as
a fresh server's database.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from deployments import local_server


def copy_into(migrated: Path, directory: Path, name: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    return Path(shutil.copyfile(migrated, directory / name))


@contextlib.contextmanager
def harness(migrated: Path) -> Iterator[str]:
    """The session's Prefect server, as Prefect's `prefect_test_harness` starts one (its temporary-server app, on a
    SQLite file in a directory of its own, the process's settings pointed at it), on a copy of ``migrated``, and
    without importing Prefect's server code into the test process as the harness does (1.5 CPU-s a worker).
    Yields the API URL."""
    import prefect.context
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker
    from prefect.settings import PREFECT_API_URL, temporary_settings

    directory = Path(tempfile.mkdtemp(prefix="amlops-harness-"))
    database = copy_into(migrated, directory, "prefect-test.db")
    env = {**os.environ, "PREFECT_HOME": str(directory / "home"), "PREFECT_SERVER_DATABASE_CONNECTION_URL": f"{local_server.SQLITE}{database}", **local_server.REGISTERED}
    env.pop("PREFECT_API_URL", None)
    # A generous start-up (240 s): the workers start their servers at once on two cores, beside whatever else runs there.
    api, process = local_server.spawn(directory, env, timeout=240)
    try:
        # In context and process-wide: code running in a context copied before (another thread's) finds it too.
        with temporary_settings({PREFECT_API_URL: api}), prefect.context._temporary_global_settings_context(prefect.context.get_settings_context()):
            try:
                yield api
            finally:  # as Prefect's harness does before it stops its server: send the logs and events still queued
                APILogWorker.drain_all()
                EventsWorker.drain_all()
    finally:
        local_server.stop(process)
        shutil.rmtree(directory, ignore_errors=True)
