"""Long-running operations the way ARM runs them, with configurable progression.

A model asks ``start`` for an operation and gets it back settled (immediate) or in progress;
``poll`` moves polls-mode operations on, ``settle_due`` finishes seconds-mode ones whose
time has come. No sleeps: time is the emulator's virtual clock.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable
from typing import Any

from amlops.emulator.errors import ArmError
from amlops.emulator.state import Operation, State


def progression(state: State, kind: str) -> dict[str, Any]:
    lro = state.settings.lro
    return lro.get(kind) or lro.get(kind.split(".")[0]) or lro.get("default") or {"mode": "immediate"}


def start(
    state: State,
    kind: str,
    subscription: str,
    complete: Callable[[], Any],
    *,
    namespace: str = "Microsoft.MachineLearningServices",
    location: str = "eastus",
    fail_with: ArmError | None = None,
    on_fail: Callable[[], None] | None = None,
) -> Operation:
    mode = progression(state, kind)
    op = Operation(
        id=state.new_id(),
        kind=kind,
        subscription=subscription,
        namespace=namespace,
        location=location,
        complete=complete,
        fail_with=fail_with,
        on_fail=on_fail,
        started=state.clock.iso(),
    )
    if mode["mode"] == "polls":
        op.polls_left = int(mode.get("count", 1))
    elif mode["mode"] == "seconds":
        op.ready_at = state.clock.now() + float(mode.get("seconds", 1))
        heapq.heappush(state.due, (op.ready_at, op.id))
    state.operations[op.id] = op
    if mode["mode"] == "immediate":
        _finish(state, op)
    return op


def _finish(state: State, op: Operation) -> None:
    if op.fail_with is not None:
        op.status, op.error = "Failed", op.fail_with
        if op.on_fail:
            op.on_fail()
    else:
        try:
            op.result = op.complete()
            op.status = "Succeeded"
        except ArmError as err:  # the effect itself can be refused, as ARM's are
            op.status, op.error = "Failed", err
            if op.on_fail:
                op.on_fail()
    op.ended = state.clock.iso()


def poll(state: State, op: Operation) -> Operation:
    if op.status == "InProgress":
        if op.ready_at == 0.0:
            op.polls_left -= 1
            if op.polls_left <= 0:
                _finish(state, op)
        elif state.clock.now() >= op.ready_at:
            _finish(state, op)
    return op


def settle_due(state: State) -> None:
    """Finish every seconds-mode operation whose time has come, so GETs see its effect."""
    now = state.clock.now()
    while state.due and state.due[0][0] <= now:  # only those due: every request settles, and a fleet opens thousands
        op = state.operations.get(heapq.heappop(state.due)[1])
        if op is not None and op.status == "InProgress":
            _finish(state, op)


def retry_after_ms(state: State, op: Operation) -> int:
    if op.status != "InProgress" or not op.ready_at:
        return 0
    # Round up: a client that waits exactly this long must find the operation done, not poll twice.
    return max(0, math.ceil((op.ready_at - state.clock.now()) * 1000))
