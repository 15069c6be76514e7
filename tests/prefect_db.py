"""Each Prefect server the suite starts on SQLite starts on a copy of the install's migrated database
(deployments/local_server.migrated_database): a server on an empty file first runs every migration Prefect has,
about 6 of the 10 CPU-seconds its start costs, and the suite starts one per xdist worker (the harness), plus the
browser tier's and a few more. The copy has the same schema and is as empty as a fresh server's database.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from deployments import local_server


def copy_into(migrated: Path, directory: Path, name: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    return Path(shutil.copyfile(migrated, directory / name))


@contextlib.contextmanager
def harness(migrated: Path) -> Iterator[None]:
    """Prefect's `prefect_test_harness` (its server on a temporary SQLite file), with that file a copy of ``migrated``:
    the harness names its file in the directory `mkdtemp` gives it, so that directory comes with the copy."""
    import prefect.testing.utilities as utilities
    from prefect.settings import temporary_settings

    def migrated_dir() -> str:
        directory = tempfile.mkdtemp()
        copy_into(migrated, Path(directory), "prefect-test.db")
        return directory

    assert utilities.mkdtemp is tempfile.mkdtemp, "prefect_test_harness no longer takes its directory from mkdtemp"
    with contextlib.ExitStack() as stack:
        utilities.mkdtemp = migrated_dir  # type: ignore[assignment]  # only while the harness starts its server
        try:
            # the copy has Prefect's block types already (deployments/local_server.REGISTERED)
            stack.enter_context(temporary_settings(local_server.registered_settings()))
            stack.enter_context(utilities.prefect_test_harness(server_startup_timeout=240))
        finally:
            utilities.mkdtemp = tempfile.mkdtemp
        yield
