"""A workspace's computes deleted or re-created all at once, followed by listing the workspace.

A platform's workspace holds hundreds of computes. A thread per compute, each polling its own operation, is what
held the move back (bench/move_downtime.py: a 32-thread pool, hundreds of computes, each thread waiting minutes):
here every request goes out from one pool as soon as ARM's budget allows (amlops.pacing paces them), and one list
of the workspace's computes, on the schedule Azure's SDK polls compute at (amlops.azure.operations: 1, 2, 4 ... up
to LIST_SECONDS), tells which are done. What each listed state means is decided in amlops.move.following; an operation is
asked about itself only when the list says it failed, for Azure's reason.

``on_done`` is called in the caller's thread with the computes finished since the last look, so a flow records
them as they finish (a resumed run re-creates only what is missing).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial

from prefect import get_run_logger

from amlops.azure import computes, operations
from amlops.azure.clients import POOL_SIZE, Clients
from amlops.errors import AmlopsError, NotFound, Unconfirmed
from amlops.models import ComputeSpec, ResourceId
from amlops.move.following import Want, next_step
from amlops.move.plan import ComputeItem
from tasks.common import clients
from tasks.move import create_or_rename

Done = Callable[[dict[str, str]], None]  # key -> what was done (a re-created compute: its name), finished since the last call
WAIT_SECONDS = 1800.0  # Azure's seconds a compute may take before it is reported, as the single-compute task waits
# Seconds between lists once the schedule has backed off: one list answers for every compute at once (a page per 100),
# so a third of Azure's SDK interval for compute (30 s, amlops.azure.operations.INTERVALS) costs a platform's 200
# computes 3 reads per 10 s where polling each would cost 200 per 30 s, and notices each end within 10 s.
LIST_SECONDS = 10.0


@dataclass
class _Item:
    key: str  # the plan's name for it
    planned: ComputeItem  # what it is, how it is removed, the power it comes back in
    want: Want
    name: str  # the name it lives under (a rename under the 'rename' Etag policy)
    op: operations.Operation | None = None
    stop_sent: bool = False
    done: str = ""
    answered: float = float("inf")  # when its request was answered (the clients' clock): lists sent after judge it


def delete_computes(workspace: ResourceId, planned: list[ComputeItem], on_done: Done) -> dict[str, str]:
    """Delete or detach each compute, as its plan item says; already gone counts as done. Returns the failures."""
    c = clients()
    items = [_Item(p.name, p, "gone", p.name, done="detached" if p.removal == "Detach" else "deleted") for p in planned]

    def send(item: _Item) -> None:
        try:
            item.op = computes.begin_delete(c, workspace, item.name, item.planned.removal)
        except NotFound:
            item.done = "already gone"

    return _run(c, workspace, items, send, on_done)


def recreate_computes(
    workspace: ResourceId,
    wanted: dict[str, tuple[ComputeItem, str]],
    location: str,
    on_done: Done,
    rename_on_conflict: bool = False,
    etag_attempts: int = 5,
    on_sent: Callable[[], None] = lambda: None,
) -> dict[str, str]:
    """Bring computes back as the plan's items say (``wanted``: key -> item and the name it lives under): built with
    their old settings, an instance in the power state the plan restores. One being built is followed, one that failed
    is removed (as the plan says) and built anew, one built is left alone. Returns the failures; ``on_done`` gets each key and the name it lives under,
    ``on_sent`` is called once every create has been answered (the caller's quick writes then get ARM's budget)."""
    c, logger = clients(), get_run_logger()  # here: the senders' threads have no run context
    have = {x.name.lower(): x for x in computes.list_computes(c, workspace)}
    items = [_Item(key, planned, "stopped" if planned.power_state == "Stopped" else "built", name) for key, (planned, name) in wanted.items()]

    def send(item: _Item) -> None:
        current = have.get(item.name.lower())
        if current is not None and current.provisioning_state in ("Failed", "Canceled"):
            logger.warning("Compute %s is %s; deleting it to build it again", item.name, current.provisioning_state)
            computes.delete_compute(c, workspace, item.name, item.planned.removal)
        elif current is not None:
            return  # built or being built: followed as it is
        spec = item.planned.spec.model_copy(update={"name": item.name})
        item.name, item.op = create_or_rename(c, spec, partial(computes.begin_create, c, workspace, location=location), rename_on_conflict, etag_attempts)

    return _run(c, workspace, items, send, on_done, on_sent)


def _run(c: Clients, workspace: ResourceId, items: list[_Item], send: Callable[[_Item], None], on_done: Done, on_sent: Callable[[], None] = lambda: None) -> dict[str, str]:
    """Send every item's request from the pool and, from the first second on, follow them by listing: an item is
    judged once its own request has been answered."""
    failed: dict[str, str] = {}
    with ThreadPoolExecutor(max_workers=POOL_SIZE, thread_name_prefix="amlops-compute") as pool:
        def answered(item: _Item) -> None:
            send(item)
            item.answered = c.clock()

        sent = {i.key: pool.submit(answered, i) for i in items}
        left = [len(sent)]
        lock = threading.Lock()

        def count(_: Future[None]) -> None:
            with lock:
                left[0] -= 1
                last = left[0] == 0
            if last:
                on_sent()

        if not sent:
            on_sent()
        for future in sent.values():
            future.add_done_callback(count)
        _follow(c, workspace, items, sent, pool, failed, on_done)
    return failed


def _each(pool: ThreadPoolExecutor, items: list[_Item], act: Callable[[_Item], None], failed: dict[str, str]) -> None:
    """Act on every item from the pool; an item whose request fails is recorded failed."""
    futures = {i.key: pool.submit(act, i) for i in items}
    for key, future in futures.items():
        error = future.exception()
        if error is not None:
            failed[key] = str(error)


def _follow(c: Clients, workspace: ResourceId, items: list[_Item], sent: dict[str, Future[None]], pool: ThreadPoolExecutor, failed: dict[str, str], on_done: Done) -> None:
    looks, started = 0, c.clock()
    while items:
        looks += 1
        c.sleep(operations.schedule(looks, LIST_SECONDS))
        asked = c.clock()
        listed = {x.name.lower(): x for x in computes.list_computes(c, workspace)}
        finished: dict[str, str] = {}
        stops: list[_Item] = []
        for item in items:
            request = sent[item.key]
            if not request.done() or (request.exception() is None and item.answered > asked):
                continue  # its request is not answered, or was answered after this list was asked for
            if request.exception() is not None:
                failed[item.key] = str(request.exception())
                continue
            step = "done" if item.done == "already gone" else next_step(item.want, listed.get(item.name.lower()), item.stop_sent)
            if step == "done":
                finished[item.key] = item.done or item.name
            elif step == "stop":
                stops.append(item)
            elif step == "failed":
                failed[item.key] = _reason(c, workspace, item, listed.get(item.name.lower()))
        _each(pool, stops, lambda i: _stop(c, workspace, i), failed)
        late = c.clock() - started >= WAIT_SECONDS
        for item in items:
            if late and item.key not in finished and item.key not in failed:
                state = listed.get(item.name.lower())
                failed[item.key] = f"{item.name} still {state.provisioning_state if state else 'missing'} ({state.state if state else ''}) after {WAIT_SECONDS:.0f} s"
        items = [i for i in items if i.key not in finished and i.key not in failed]
        if finished:
            on_done(finished)


def _stop(c: Clients, workspace: ResourceId, item: _Item) -> None:
    """It was off before the move: leave it off, not billing. A stop whose answer was lost is settled by the next
    list, asked after it: Stopping or Stopped, Azure took it; still Running, it is sent again (as the fleet does)."""
    try:
        computes.begin_power(c, workspace, item.name, "stop")
    except Unconfirmed:
        return
    item.stop_sent = True


def _reason(c: Clients, workspace: ResourceId, item: _Item, current: ComputeSpec | None) -> str:
    """Why the list says it failed: Azure's own reason from the operation, when there is one to ask."""
    seen = f"{item.name} is {current.provisioning_state} ({current.state})" if current else f"{item.name} is missing"
    if item.op is not None and not item.stop_sent:
        try:
            operations.check(c, workspace.subscription, item.op)
        except AmlopsError as err:
            return f"{seen}: {err}"
    return seen
