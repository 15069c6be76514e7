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


# ARM's budget per subscription (reads 250 burst then 25/s; writes and deletes 200 then 10/s), with a
# margin: other tools share it, and a throttled request costs a Retry-After wait.
ARM_BUDGET: dict[str, tuple[float, int]] = {"reads": (24.0, 240), "writes": (9.5, 190), "deletes": (9.5, 190)}


def request_kind(method: str, path: str) -> str:
    """How ARM counts a request: list* actions and validateMoveResources are reads, other POSTs writes."""
    if method in ("GET", "HEAD"):
        return "reads"
    if method == "DELETE":
        return "deletes"
    action = path.rstrip("/").rsplit("/", 1)[-1].lower()
    return "reads" if method == "POST" and (action.startswith("list") or action in ("validatemoveresources", "checkpolicyrestrictions")) else "writes"


class Budget:
    """One pacer per subscription and kind of request, shared by every client of a process."""

    def __init__(
        self,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        limits: dict[str, tuple[float, int]] | None = None,
    ) -> None:
        self._pacers: dict[tuple[str, str], Pacer] = {}
        self._lock = threading.Lock()
        self._sleep, self._clock = sleep, clock
        self.limits = limits or ARM_BUDGET

    def acquire(self, subscription: str, kind: str) -> float:
        with self._lock:
            key = (subscription.lower(), kind)
            if key not in self._pacers:
                rate, burst = self.limits[kind]
                self._pacers[key] = Pacer(rate, burst, clock=self._clock, sleep=self._sleep)
            pacer = self._pacers[key]
        return pacer.acquire()
