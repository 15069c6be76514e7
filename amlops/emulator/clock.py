"""The emulator's clock: real time plus an offset that tests advance instead of sleeping.

Frozen, it stands still until advanced: throttle buckets, job timelines and long-running operations
then depend only on what a test did, never on how fast the machine ran it.

Sped up (``set_speed``), it runs that many emulated seconds per real second: a benchmark plays Azure's minutes
in seconds, and everything timed by this clock (operations, ARM's bucket refills, Retry-After) keeps Azure's
proportions. The client is told the same factor (AMLOPS_TIME_SCALE, amlops.azure.clients) and scales its own
sleeps and pacing clock by it, so both sides count in Azure's seconds.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta


class VirtualClock:
    def __init__(self) -> None:
        self._offset = 0.0
        self._frozen: tuple[float, float] | None = None  # (monotonic, wall) when it stopped
        self._speed, self._epoch = 1.0, time.monotonic()  # emulated seconds per real second, since _epoch
        self._lock = threading.Lock()

    def _real(self) -> tuple[float, float]:
        mono, wall = self._frozen or (time.monotonic(), time.time())
        gained = (mono - self._epoch) * (self._speed - 1.0)
        return mono + gained, wall + gained

    @property
    def speed(self) -> float:
        return self._speed

    def set_speed(self, speed: float) -> None:
        """Run ``speed`` emulated seconds per real second from now on (1: real time), without a jump."""
        if speed <= 0:
            raise ValueError("The clock's speed must be positive.")
        with self._lock:
            mono = self._frozen[0] if self._frozen else time.monotonic()
            self._offset += (mono - self._epoch) * (self._speed - 1.0)
            self._speed, self._epoch = float(speed), mono

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
                self._offset -= (time.monotonic() - self._frozen[0]) * self._speed
                self._frozen = None

    def utcnow(self) -> datetime:
        return datetime.fromtimestamp(self._real()[1] + self._offset, tz=UTC)

    def iso(self) -> str:
        return self.utcnow().isoformat().replace("+00:00", "Z")

    def iso_at(self, t: float) -> str:
        """The UTC time of an instant ``t`` of this clock (as returned by now())."""
        return (self.utcnow() - timedelta(seconds=self.now() - t)).isoformat().replace("+00:00", "Z")
