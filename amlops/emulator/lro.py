"""Long-running operations the way ARM runs them, with configurable progression.

A model asks ``start`` for an operation and gets it back settled (immediate) or in progress;
``poll`` moves polls-mode operations on, ``settle_due`` finishes seconds-mode ones whose
time has come. No sleeps: time is the emulator's virtual clock.
"""

from __future__ import annotations

import heapq
import math
import zlib
from collections.abc import Callable
from typing import Any

from amlops.emulator.errors import ArmError
from amlops.emulator.state import Operation, State

# Azure's own durations, in seconds, of each kind of operation: measured in the Azure SDK teams' recordings of live
# Azure (Azure/azure-sdk-assets) from the operation's first answer to the poll that saw it end (FACTS.md). Not used
# unless asked for (``azure_durations``): tests keep the progressions they set. A pair is a range Azure was seen to
# take; each resource then gets its own place in it (``seconds_for``).
AZURE_SECONDS: dict[str, float | tuple[float, float]] = {
    # compute/test_compute ... stop_start_restart (155 s), ... create_and_delete (399 s)
    "compute.create.instance": (155.0, 399.0),
    # compute/test_compute ... aml_compute_create_and_delete
    "compute.create.cluster": 32.0,
    # not recorded: an attach names a cluster that exists already, assumed answered at once (bench/move_downtime.py)
    "compute.create.attach": 0.0,
    # not recorded for instances: assumed as long as a cluster's (compute/test_compute ... aml_compute_create_and_delete: 32-63 s)
    "compute.delete": 45.0,
    # compute/test_compute ... stop_start_restart
    "compute.stop": 31.0,
    "compute.start": 93.0,
    # online_services/test_online_endpoint ... e2e (server times)
    "endpoint.create.online": 55.0,
    "endpoint.delete.online": 10.0,
    # online_services/test_online_deployment ... create: the traffic update after the deployments
    "endpoint.create.update": 70.0,
    # batch_services/test_batch_endpoint ... create
    "endpoint.create.batch": 30.0,
    "endpoint.delete.batch": 10.0,
    # online_services/test_online_deployment ... create
    "deployment.create.online": 425.0,
    # not recorded: assumed as long as its batch endpoint's creation (batch_services/test_batch_endpoint ... create)
    "deployment.create.batch": 30.0,
    # java resources GenericResourcesTests.canValidateMoveResources
    "validate": 33.0,
    # not recorded for a workspace: as long as the longest compute instance creation (the move carries the workspace's
    # compute records; issue 22's premise)
    "move": 399.0,
}


def azure_durations(**overrides: float | tuple[float, float]) -> dict[str, dict[str, Any]]:
    """Settings.lro giving every kind Azure's recorded duration (AZURE_SECONDS), anything else immediate."""
    table = {**AZURE_SECONDS, **overrides}
    progressions: dict[str, dict[str, Any]] = {"default": {"mode": "immediate"}}
    for kind, seconds in table.items():
        low, high = seconds if isinstance(seconds, tuple) else (seconds, seconds)
        progressions[kind] = {"mode": "seconds", "seconds": low, **({"up_to": high} if high != low else {})}
    return progressions


def progression(state: State, kind: str) -> dict[str, Any]:
    """The most specific setting for a kind: "compute.create.instance", else "compute.create", else "compute", else
    "default"."""
    lro, parts = state.settings.lro, kind.split(".")
    for n in range(len(parts), 0, -1):
        found = lro.get(".".join(parts[:n]))
        if found:
            return found
    return lro.get("default") or {"mode": "immediate"}


def seconds_for(mode: dict[str, Any], key: str) -> float:
    """How long a seconds-mode operation on resource ``key`` lasts: ``seconds``, or with ``up_to`` a place in that
    range fixed by the resource's id (the same resource always takes as long; many spread evenly over the range)."""
    low = float(mode.get("seconds", 1))
    high = float(mode.get("up_to", low))
    if high <= low:
        return low
    return low + (high - low) * (zlib.crc32(key.lower().encode()) % 1000) / 999


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
    key: str = "",
) -> Operation:
    """``kind`` names the operation for its progression (``progression``); ``key``, the resource it acts on, places
    it in a range of durations."""
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
        op.ready_at = state.clock.now() + seconds_for(mode, key)
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
