"""Pacing writes under ARM's budget, so a fleet operation gets no 429s instead of recovering from them.

GCRA (the generic cell rate algorithm): each call reserves the next slot on a schedule of
``rate`` per second that tolerates a burst of ``burst``. The decision is pure; the caller sleeps.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class Schedule:
    """The pure part: given the time, when may the next call go?"""

    rate: float  # calls per second, sustained
    burst: int  # calls allowed back to back
    _tat: float = 0.0  # theoretical arrival time of the next call

    def reserve(self, now: float) -> float:
        """Reserve a slot; returns how long to wait before using it (0 means now)."""
        interval = 1.0 / self.rate
        tolerance = (self.burst - 1) * interval
        tat = max(self._tat, now)
        wait = max(0.0, tat - tolerance - now)
        self._tat = tat + interval
        return wait


@dataclass
class Pacer:
    """A thread-safe pacer: ``acquire()`` blocks until the caller's slot comes."""

    rate: float
    burst: int
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    _schedule: Schedule = field(init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False)

    def __post_init__(self) -> None:
        self._schedule = Schedule(self.rate, self.burst)

    def acquire(self) -> float:
        with self._lock:
            wait = self._schedule.reserve(self.clock())
        if wait > 0:
            self.sleep(wait)
        return wait


# ARM allows 200 writes in a burst and 10 per second after, per subscription. Stay a little under it:
# other tools share the budget, and a throttled write costs a Retry-After wait.
ARM_WRITE_RATE, ARM_WRITE_BURST = 9.5, 190
