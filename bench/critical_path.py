"""The least time a set of Azure operations can take: dependencies, each operation's own duration, and ARM's
request budgets (a bucket of ``burst`` requests refilled at ``rate`` a second, per subscription and kind).

A pure list-scheduling simulation: whenever a bucket has a token and an operation's prerequisites are done,
the ready operation with the longest remaining chain (its own duration plus the longest chain that waits
for it) is sent. Longest-tail-first is what a careful operator would do by hand, and on one budget with
no other limit it is optimal; the benchmarks print their wall time against this figure.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Iterable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Op:
    """One request and the operation it starts: ``seconds`` until done (0: answered at once)."""

    key: str
    seconds: float
    bucket: str  # which budget it spends, e.g. "target.writes"
    after: tuple[str, ...] = ()


@dataclass
class Budget:
    burst: int
    rate: float  # requests per second, after the burst
    sent: int = 0

    def next_token(self, now: float) -> float:
        """When the next request may go: the bucket starts full and refills continuously."""
        return max(now, (self.sent + 1 - self.burst) / self.rate)


@dataclass
class Schedule:
    finish: float  # when the last operation ends
    sent_at: dict[str, float] = field(default_factory=dict)
    done_at: dict[str, float] = field(default_factory=dict)

    def span(self, first: str, last: Iterable[str]) -> float:
        """From when ``first`` is sent until the last of ``last`` is done."""
        return max(self.done_at[k] for k in last) - self.sent_at[first]


def dependents_of(ops: list[Op]) -> dict[str, list[str]]:
    """For each operation, the operations that wait for it."""
    index: dict[str, list[str]] = {op.key: [] for op in ops}
    for op in ops:
        for before in op.after:
            index[before].append(op.key)
    return index


def tails(ops: list[Op]) -> dict[str, float]:
    """Each operation's duration plus the longest chain of operations waiting for it (dependents first)."""
    by_key, dependents = {op.key: op for op in ops}, dependents_of(ops)
    unresolved = {key: len(waiting) for key, waiting in dependents.items()}
    todo = [key for key, n in unresolved.items() if n == 0]
    tail: dict[str, float] = {}
    while todo:
        key = todo.pop()
        tail[key] = by_key[key].seconds + max((tail[w] for w in dependents[key]), default=0.0)
        for before in by_key[key].after:
            unresolved[before] -= 1
            if unresolved[before] == 0:
                todo.append(before)
    return tail


def schedule(ops: list[Op], budgets: dict[str, Budget]) -> Schedule:
    """Send every operation as early as its prerequisites and its budget allow, longest tail first."""
    tail = tails(ops)
    left = {op.key: len(op.after) for op in ops}
    dependents = dependents_of(ops)
    by_key = {op.key: op for op in ops}
    ready: dict[str, list[tuple[float, str]]] = {b: [] for b in budgets}
    for op in ops:
        if not op.after:
            heapq.heappush(ready[op.bucket], (-tail[op.key], op.key))
    running: list[tuple[float, str]] = []
    result = Schedule(finish=0.0)
    now = 0.0
    while any(ready.values()) or running:
        # The earliest moment something can be sent, against the next completion.
        sends = [(budgets[b].next_token(now), b) for b, queue in ready.items() if queue]
        next_send = min(sends) if sends else (math.inf, "")
        next_done = running[0][0] if running else math.inf
        if next_send[0] <= next_done:
            now, bucket = next_send
            _, key = heapq.heappop(ready[bucket])
            budgets[bucket].sent += 1
            result.sent_at[key] = now
            heapq.heappush(running, (now + by_key[key].seconds, key))
            continue
        now = next_done
        while running and running[0][0] <= now:
            _, key = heapq.heappop(running)
            result.done_at[key] = now
            for waiting in dependents.get(key, ()):
                left[waiting] -= 1
                if left[waiting] == 0:
                    heapq.heappush(ready[by_key[waiting].bucket], (-tail[waiting], waiting))
    if len(result.done_at) != len(ops):
        raise ValueError("operations wait on each other in a cycle, or on an operation not in the list")
    result.finish = max(result.done_at.values(), default=0.0)
    return result
