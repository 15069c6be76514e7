"""The emulator's clock: real time plus an offset that tests advance instead of sleeping."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta


class VirtualClock:
    def __init__(self) -> None:
        self._offset = 0.0
        self._lock = threading.Lock()

    def now(self) -> float:
        return time.monotonic() + self._offset

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._offset += seconds

    def utcnow(self) -> datetime:
        return datetime.fromtimestamp(time.time() + self._offset, tz=UTC)

    def iso(self) -> str:
        return self.utcnow().isoformat().replace("+00:00", "Z")

    def iso_at(self, t: float) -> str:
        """The UTC time of an instant ``t`` of this clock (as returned by now())."""
        return (self.utcnow() - timedelta(seconds=self.now() - t)).isoformat().replace("+00:00", "Z")
