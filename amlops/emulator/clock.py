"""The emulator's clock: real time plus an offset that tests advance instead of sleeping.

Frozen, it stands still until advanced: throttle buckets, job timelines and long-running operations
then depend only on what a test did, never on how fast the machine ran it.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta


class VirtualClock:
    def __init__(self) -> None:
        self._offset = 0.0
        self._frozen: tuple[float, float] | None = None  # (monotonic, wall) when it stopped
        self._lock = threading.Lock()

    def _real(self) -> tuple[float, float]:
        return self._frozen or (time.monotonic(), time.time())

    def now(self) -> float:
        return self._real()[0] + self._offset

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._offset += seconds

    @property
    def frozen(self) -> bool:
        return self._frozen is not None

    def freeze(self) -> None:
        """Stop following real time; only advance() moves it from here."""
        with self._lock:
            if self._frozen is None:
                self._frozen = (time.monotonic(), time.time())

    def thaw(self) -> None:
        """Follow real time again, from the instant it showed when frozen (no jump)."""
        with self._lock:
            if self._frozen is not None:
                self._offset -= time.monotonic() - self._frozen[0]
                self._frozen = None

    def utcnow(self) -> datetime:
        return datetime.fromtimestamp(self._real()[1] + self._offset, tz=UTC)

    def iso(self) -> str:
        return self.utcnow().isoformat().replace("+00:00", "Z")

    def iso_at(self, t: float) -> str:
        """The UTC time of an instant ``t`` of this clock (as returned by now())."""
        return (self.utcnow() - timedelta(seconds=self.now() - t)).isoformat().replace("+00:00", "Z")
