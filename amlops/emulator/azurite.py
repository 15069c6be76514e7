"""Azurite, Microsoft's storage emulator, started from the project's node_modules (npm ci installs it)."""

from __future__ import annotations

import re
import subprocess
import tempfile
import time
from pathlib import Path
from typing import IO

ACCOUNT = "devstoreaccount1"
# Azurite's documented development key: public, not a secret.
KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
BINARY = Path(__file__).parents[2] / "node_modules" / ".bin" / "azurite-blob"


# What Azurite prints once its blob service is bound (azurite 3.x, src/blob/main.ts).
LISTENING = re.compile(r"Blob service successfully listens on http://127\.0\.0\.1:(\d+)")


class Azurite:
    """``with Azurite() as blob_url:`` runs Azurite's blob service in memory on a loopback port the operating
    system picks when Azurite binds (port 0), read back from what Azurite prints: no port is chosen
    beforehand, so none can be taken by another process between choosing and binding."""

    def __init__(self) -> None:
        if not BINARY.exists():
            raise FileNotFoundError(f"Azurite is not installed at {BINARY}: run `npm ci` (make test and make demo do).")
        self.port = 0
        self.url = ""
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 120) -> str:
        args = [str(BINARY), "--inMemoryPersistence", "--disableTelemetry", "--skipApiVersionCheck", "--blobHost", "127.0.0.1", "--blobPort", "0"]
        with tempfile.TemporaryFile() as out:  # a file, not a pipe: nobody has to keep reading it
            self._proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT)
            deadline = time.monotonic() + timeout
            while not (found := LISTENING.search(_read(out))):
                if self._proc.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"Azurite did not start:\n{_read(out)[-2000:]}")
                time.sleep(0.1)
        self.port = int(found.group(1))
        self.url = f"http://127.0.0.1:{self.port}/{ACCOUNT}"
        return self.url

    def stop(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            self._proc.wait(timeout=10)

    def env(self) -> dict[str, str]:
        """What points amlops' storage gateway at this Azurite."""
        return {"AMLOPS_BLOB_URL": self.url, "AMLOPS_BLOB_KEY": KEY}

    def __enter__(self) -> str:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _read(out: IO[bytes]) -> str:
    out.seek(0)
    return out.read().decode(errors="replace")
