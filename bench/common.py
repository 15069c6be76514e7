"""What every benchmark shares: pointing amlops at the benchmark's own emulator, and back again."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator


def local_prefect() -> None:
    """Prefect's own temporary server for this process, in a directory of its own; on a loaded machine it
    can take longer than Prefect's default 20 s to start, and a benchmark should measure, not give up."""
    os.environ.setdefault("PREFECT_HOME", tempfile.mkdtemp(prefix="amlops-bench-"))
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180")


@contextlib.contextmanager
def pointed_at(env: dict[str, str]) -> Iterator[None]:
    """Point amlops (the environment and the process's cached clients) at this run's emulator, and
    restore both afterwards: the next benchmark must not reach for an emulator that has stopped and
    deleted its certificate."""
    from amlops.rehearsal import environment_restored
    from tasks import common

    with environment_restored(env):
        os.environ.update(env)
        common.clients.cache_clear()
        try:
            yield
        finally:
            common.clients.cache_clear()
