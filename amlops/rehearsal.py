"""A private Azure on this machine: the emulator loaded with a scenario, Azurite beside it, and the process
environment pointing amlops at both until the rehearsal ends.

``with rehearsal(spec) as r:`` is what the demo, ``amlops rehearse``, benchmarks and tests share. On exit
both servers stop and the environment is put back as it was, so nothing afterwards points at a
certificate that no longer exists.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from amlops.emulator import Emulator
from amlops.emulator.azurite import KEY, Azurite


@dataclass
class Rehearsal:
    emulator: Emulator
    blob_url: str | None
    home: Path  # move manifests (AMLOPS_STATE_DIR) and, unless one was set, PREFECT_HOME live below it

    @property
    def env(self) -> dict[str, str]:
        return {k: os.environ[k] for k in ENV_NAMES if k in os.environ}

    def counts(self) -> tuple[int, int]:
        """ARM requests the emulator answered, and how many of them could change something."""
        entries = self.emulator.log.entries
        return len(entries), sum(1 for r in entries if r["kind"] != "reads")


ENV_NAMES = (
    "AMLOPS_TARGET", "AMLOPS_EMULATOR_URL", "AMLOPS_EMULATOR_CA", "AMLOPS_BLOB_URL", "AMLOPS_BLOB_KEY", "AMLOPS_STATE_DIR",
    "PREFECT_HOME", "PREFECT_SERVER_ANALYTICS_ENABLED", "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS",
)  # fmt: skip


@contextmanager
def environment_restored(names: Iterable[str]) -> Iterator[None]:
    """Whatever happens to these environment variables inside, they are as they were afterwards."""
    saved = {k: os.environ.get(k) for k in names}
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@contextmanager
def rehearsal(spec: dict[str, Any] | None = None, *, azurite: bool = True, port: int = 0, home: Path | None = None) -> Iterator[Rehearsal]:
    """Start the emulator (loaded with ``spec``) and, unless told not to, Azurite; point the environment at them."""
    with environment_restored(ENV_NAMES), ExitStack() as stack:
        temp = home or Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="amlops-rehearsal-")))
        os.environ.setdefault("PREFECT_HOME", str(temp / "prefect"))
        os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")  # its start-up write races the server's own
        # Prefect's temporary server gets 20 s to start by default; a busy laptop needs more (seen: demo timed out).
        os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
        os.environ["AMLOPS_STATE_DIR"] = str(temp / "state")
        emulator = stack.enter_context(Emulator(port=port, scenario_spec=spec))
        os.environ.update(emulator.env())
        blob_url = None
        if azurite:
            server = Azurite()
            blob_url = stack.enter_context(server)
            os.environ.update(server.env())
            emulator.state.settings.storage_url, emulator.state.settings.storage_key = blob_url, KEY
        yield Rehearsal(emulator, blob_url, temp)
