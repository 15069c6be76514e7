"""Azurite, Microsoft's storage emulator, started from the project's node_modules (npm ci installs it)."""

from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path

ACCOUNT = "devstoreaccount1"
# Azurite's documented development key: public, not a secret.
KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
BINARY = Path(__file__).parents[2] / "node_modules" / ".bin" / "azurite-blob"


class Azurite:
    """``with Azurite() as blob_url:`` runs Azurite's blob service on a free loopback port, in memory."""

    def __init__(self) -> None:
        if not BINARY.exists():
            raise FileNotFoundError(f"Azurite is not installed at {BINARY}: run `npm ci` (make test and make demo do).")
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}/{ACCOUNT}"
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 30) -> str:
        args = [str(BINARY), "--inMemoryPersistence", "--disableTelemetry", "--skipApiVersionCheck", "--blobHost", "127.0.0.1", "--blobPort", str(self.port)]
        self._proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return self.url
            except OSError:
                if self._proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("Azurite did not start") from None
                time.sleep(0.1)

    def stop(self) -> None:
        if self._proc is not None:
            self._proc.terminate()
            self._proc.wait(timeout=10)

    def env(self) -> dict[str, str]:
        """What points amlops' storage gateway at this Azurite."""
        return {"AMLOPS_BLOB_URL": self.url, "AMLOPS_BLOB_KEY": KEY}

    def __enter__(self) -> str:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
