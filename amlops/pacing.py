"""Pacing requests under ARM's budget, so a fleet operation gets no 429s instead of recovering from them.

GCRA (the generic cell rate algorithm): each call reserves the next slot on a schedule of
``rate`` per second that tolerates a burst of ``burst``. The decision is pure; the caller sleeps.

One budget across processes. ARM's budget is per subscription, shared by every client: two flow runs
on two workers that each pace themselves to the whole budget together spend twice it. ARM tells every
client what is left on every response (``x-ms-ratelimit-remaining-subscription-reads|writes|deletes``)
and how long to wait on a 429 (``Retry-After``), per
https://learn.microsoft.com/azure/azure-resource-manager/management/request-limits-and-throttling.
So each process keeps its own schedule but (1) never believes it has more than ARM last said is left,
less a reserve, (2) keeps at most a quarter of that remainder in flight, so up to four processes
reading the same figure cannot overspend it between two responses; a 429 that still happens (another
tool spent the budget) is retried after its Retry-After by amlops.azure.retry. Every process converges
on the same figure without talking to the others.

Why not a Prefect global concurrency limit used as a rate limit: measured here (FACTS.md), two
processes together got 75-80% of its nominal rate, each acquire took ~140 ms (up to 1.7 s) and a
server round trip; at ARM's 10 writes/s that alone misses 1.2x the floor. It also needs the Prefect
server on every Azure call, and amlops (the library) imports no Prefect. The headers cost nothing.
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
        wait = tat - tolerance - now
        self._tat = tat + interval
        return wait if wait > 1e-9 else 0.0  # sums of 1/rate drift by a few ulps: not a wait

    def observe(self, available: float, now: float) -> None:
        """ARM says ``available`` calls are left for everyone: believe no more than that (never more than before)."""
        self._tat = max(self._tat, now + (self.burst - available) / self.rate)


# ARM's budget per subscription (reads 250 burst then 25/s; writes and deletes 200 then 10/s). The margin is
# RESERVE: a lane never spends more than ARM's last answer says is left less RESERVE, so other tools'
# spending and requests bunched in flight come out of the reserve, not as 429s. (A second margin on the
# rate itself, 5% below ARM's, cost a fleet ~4 s of every 80 s at 10,000 stops: bench/fleet_platform.py.)
ARM_BUDGET: dict[str, tuple[float, int]] = {"reads": (25.0, 250), "writes": (10.0, 200), "deletes": (10.0, 200)}
RESERVE = 10  # calls of ARM's remaining budget left unspent: room for what is in flight from other processes
SHARE = 4  # in flight at most 1/SHARE of what ARM says is left: safe for up to SHARE processes at once
REMAINING_HEADER = "x-ms-ratelimit-remaining-subscription-"


def request_kind(method: str, path: str) -> str:
    """How ARM counts a request: list* actions and checkPolicyRestrictions are reads, other POSTs writes, and so are a
    datastore's listSecrets and validateMoveResources (recorded: their answers carry x-ms-ratelimit-remaining-subscription-writes)."""
    if method in ("GET", "HEAD"):
        return "reads"
    if method == "DELETE":
        return "deletes"
    action = path.rstrip("/").rsplit("/", 1)[-1].lower()
    if action in ("listsecrets", "validatemoveresources"):
        return "writes"
    return "reads" if method == "POST" and (action.startswith("list") or action == "checkpolicyrestrictions") else "writes"


def remaining_from(headers: dict[str, str] | object, kind: str) -> int | None:
    """What ARM says is left of this kind for the subscription, if the response says."""
    value = headers.get(REMAINING_HEADER + kind) if hasattr(headers, "get") else None
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


@dataclass
class Lane:
    """One subscription's budget of one kind, as this process sees it: a schedule plus a cap on requests in flight."""

    rate: float
    burst: int
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    reserve: int = RESERVE
    remaining: int | None = None  # what ARM last said is left for everyone
    in_flight: int = 0
    _schedule: Schedule = field(init=False)
    _cond: threading.Condition = field(default_factory=threading.Condition, init=False)

    def __post_init__(self) -> None:
        self._schedule = Schedule(self.rate, self.burst)
        self.reserve = max(1, min(self.reserve, self.burst // 10))

    def room(self) -> int:
        """How many requests may be in flight: a share of what is left, and never fewer than half the reserve.

        One at a time would cap a process at 1/latency (ARM answers a write in ~0.3 s: ~3 per s, a third of
        the budget); half the reserve each lets two processes at the floor together stay within it."""
        left = self.burst if self.remaining is None else self.remaining - self.reserve
        return max(1, self.reserve // 2, int(left // SHARE))

    def enter(self) -> float:
        """Wait for room in flight and for this call's slot; returns the time slept for the slot."""
        with self._cond:
            while self.in_flight >= self.room():
                self._cond.wait(timeout=1.0)
            self.in_flight += 1
            wait = self._schedule.reserve(self.clock())
        if wait > 0:
            self.sleep(wait)
        return wait

    def leave(self, remaining: int | None = None) -> None:
        """The response is in: learn what ARM says is left."""
        with self._cond:
            self.in_flight = max(0, self.in_flight - 1)
            if remaining is not None:
                self.remaining = remaining
                self._schedule.observe(remaining - self.reserve, self.clock())
            self._cond.notify_all()


class Budget:
    """One lane per subscription and kind of request, shared by every client of a process."""

    def __init__(
        self,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        limits: dict[str, tuple[float, int]] | None = None,
    ) -> None:
        self._lanes: dict[tuple[str, str], Lane] = {}
        self._lock = threading.Lock()
        self._sleep, self._clock = sleep, clock
        self.limits = limits or ARM_BUDGET

    def lane(self, subscription: str, kind: str) -> Lane:
        with self._lock:
            key = (subscription.lower(), kind)
            if key not in self._lanes:
                rate, burst = self.limits[kind]
                self._lanes[key] = Lane(rate, burst, clock=self._clock, sleep=self._sleep)
            return self._lanes[key]

    def acquire(self, subscription: str, kind: str) -> float:
        """Wait for a slot and leave at once (for callers that do not report responses)."""
        lane = self.lane(subscription, kind)
        wait = lane.enter()
        lane.leave()
        return wait
