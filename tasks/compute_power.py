"""Tasks of the fleet start/stop: one per subscription, not one per workspace or instance (a Prefect
server spends ~0.1 s of CPU recording each task run). Inside a task, a few workspaces at a time, each
one thread that sends the workspace's requests in turn and follows the operations Azure accepted
without waiting on each (the clients pace every request under ARM's budget); each instance ends with
its own outcome: a failing instance, or one waiting out a capacity retry, holds up no other."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from logging import Logger, LoggerAdapter
from typing import Any
from uuid import UUID

from prefect import get_run_logger, task
from prefect.artifacts import update_progress_artifact
from prefect.context import TaskRunContext

from amlops.azure import computes, jobs, operations, workspaces
from amlops.errors import AmlopsError, Conflict, InvalidInput, NotFound, TimedOut, Unconfirmed
from amlops.fleet import (
    CAPACITY_CODES,
    FINAL_STATES,
    TARGET_STATES,
    Action,
    IdlePolicy,
    Outcome,
    Result,
    Selector,
    Survey,
    decide,
    plan_run,
    power_action_failed,
)
from amlops.models import Model, ResourceId
from tasks.common import TASK_DEFAULTS, clients

# Workspaces of one subscription worked on at once: each is one thread sending its requests in turn; four keep
# ARM's write budget (10 a second per subscription) busy with room to spare, and their shared re-reads of
# running jobs (one list per workspace every JOBS_MAX_AGE) small beside the read budget.
WORKSPACES_AT_ONCE = 4
MIN_LIST_INTERVAL, LISTS_PER_SECOND = 1.0, 5.0  # how often a workspace's open operations are looked at (_ListPace)


class Progress:
    """Counts finished instances across tasks and keeps the progress artifact up to date."""

    _lock = threading.Lock()
    _done: dict[UUID, int] = {}

    @classmethod
    def tick(cls, artifact_id: UUID | None, total: int, logger: Logger | LoggerAdapter[Logger] | None = None, unit: str = "instances") -> None:
        if not artifact_id or not total:
            return
        with cls._lock:
            cls._done[artifact_id] = done = cls._done.get(artifact_id, 0) + 1
        if done == total or done % max(1, total // 50) == 0:
            update_progress_artifact(artifact_id=artifact_id, progress=100.0 * done / total)
        if logger is not None and (done == total or done % max(1, total // 10) == 0):  # a line per tenth in the terminal
            logger.info("%s of %s %s done", done, total, unit)


def _survey(workspace: ResourceId) -> Survey:
    c = clients()
    busy: dict[str, list[str]] = {}
    for job in jobs.active_jobs(c, workspace):
        if job.compute:
            busy.setdefault(job.compute, []).append(job.name)
    return Survey(workspace=str(workspace), computes=computes.list_computes(c, workspace), busy=busy)


@task(name="survey_subscription", **TASK_DEFAULTS)
def survey_subscription(workspaces: list[ResourceId]) -> list[Survey]:
    """The instances and running jobs of one subscription's selected workspaces, a few workspaces at a time."""
    with ThreadPoolExecutor(max_workers=max(1, min(WORKSPACES_AT_ONCE, len(workspaces)))) as pool:
        return list(pool.map(_survey, workspaces))


UNCONFIRMED_LIMIT = 5  # requests of one instance whose answer was lost before its outcome is failed
JOBS_MAX_AGE = 5.0  # seconds a workspace's active-job list is reused by the re-checks of its instances


class _ActiveJobs:
    """The workspace's active jobs, read again when older than JOBS_MAX_AGE: the instances of one workspace
    share one list (Azure ML's job list has no filter by compute), so the re-reads stay within ARM's read budget."""

    def __init__(self, workspace: ResourceId) -> None:
        self._workspace = workspace
        self._lock = threading.Lock()
        self._at = -JOBS_MAX_AGE - 1.0
        self._busy: dict[str, list[str]] = {}

    def on(self, c: Any, name: str) -> list[str]:
        with self._lock:
            if time.monotonic() - self._at > JOBS_MAX_AGE:
                busy: dict[str, list[str]] = {}
                for job in jobs.active_jobs(c, self._workspace):
                    if job.compute:
                        busy.setdefault(job.compute, []).append(job.name)
                self._busy, self._at = busy, time.monotonic()
            return self._busy.get(name, [])


def recheck_before_stop(c: Any, workspace: ResourceId, name: str, active: _ActiveJobs) -> Outcome | None:
    """Busy and keep-alive read again right before a stop, so a job that started since the survey is not killed:
    the instance itself (Azure's JobRunning/SettingUp state, its keep-alive tag: one read each stop) and the
    workspace's active jobs (shared, at most JOBS_MAX_AGE old). An outcome means: do not stop."""
    fresh = computes.get_compute(c, workspace, name)
    running = active.on(c, name)
    verdict = decide(fresh, "stop", running, datetime.now(UTC))
    if verdict is None:
        return None
    return Outcome(workspace=str(workspace), compute=name, action="stop", result=verdict[0], reason=f"{verdict[1]} (read again just before the stop)")


class _ListPace:
    """How often a workspace with open operations is listed: every MIN_LIST_INTERVAL, as long as all the
    subscription's workspaces with open operations together list at most LISTS_PER_SECOND times a second (a fifth
    of ARM's read refill). Counted over the workspaces with operations open now, not over every workspace of the
    run: at the end of a fleet only the last few have any, and each operation is seen done about a second after
    Azure finishes it, not up to (workspaces / LISTS_PER_SECOND) seconds later."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._open: set[int] = set()

    def interval(self, batch: object, is_open: bool) -> float:
        """Record whether ``batch`` has operations open; the interval its next list waits."""
        with self._lock:
            (self._open.add if is_open else self._open.discard)(id(batch))
            return max(MIN_LIST_INTERVAL, len(self._open) / LISTS_PER_SECOND)


@dataclass
class _Waiting:
    """An instance between requests: its operation running at Azure, its next capacity attempt not yet due, or
    (``unconfirmed``, no op) a request whose answer was lost, to be looked up in the workspace's next list."""

    name: str
    due: float  # monotonic time of the next request for it
    started: float
    attempt: int = 0
    op: operations.Operation | None = None  # None: start (again) when due, or look first if unconfirmed
    unconfirmed: int = 0  # requests whose answer was lost: the instance is looked at before anything is sent again
    sent: float = 0.0  # monotonic time Azure accepted its operation

    @property
    def followed(self) -> bool:
        """Settled by the workspace's list: an operation Azure accepted, or a request whose answer was lost."""
        return self.op is not None or self.unconfirmed > 0


class _Batch:
    """One workspace's instances, one thread: each re-read and started or stopped in turn, the operations
    Azure accepted followed by polling each when its Retry-After is due, between the next instances'
    requests. Waiting costs no thread, so hundreds of operations can be open at once; the pace is ARM's
    budget (the clients' pacing), not the number of threads."""

    def __init__(
        self,
        workspace: ResourceId,
        action: Action,
        wait_seconds: float,
        capacity_retries: int,
        capacity_delay: float,
        pace: _ListPace | None = None,
        on_settled: Callable[[], None] | None = None,
    ) -> None:
        self.c = clients()
        self.workspace, self.action, self.wait_seconds = workspace, action, wait_seconds
        self.capacity_retries, self.capacity_delay = capacity_retries, capacity_delay
        self.active = _ActiveJobs(workspace)
        self.waiting: list[_Waiting] = []
        self.outcomes: dict[str, Outcome] = {}
        self._on_settled = on_settled
        self.pace = pace or _ListPace()
        self._expected: int | None = None  # instances begun, once all are: then every outcome in means settled
        self.listed_at = 0.0  # monotonic time of the workspace's last list

    def expect(self, count: int) -> None:
        """Every instance of the workspace is begun (``count`` of them): it is settled once each has its outcome."""
        self._expected = count
        self._check_settled()

    def _check_settled(self) -> None:
        if self._expected is not None and len(self.outcomes) >= self._expected and self._on_settled is not None:
            settled, self._on_settled = self._on_settled, None
            settled()

    @property
    def list_interval(self) -> float:
        """Seconds until this workspace's next list (_ListPace), with its operations open or not as they are now."""
        return self.pace.interval(self, bool(self.waiting))

    def _outcome(self, name: str, result: Result, reason: str = "") -> None:
        self.outcomes[name] = Outcome(workspace=str(self.workspace), compute=name, action=self.action, result=result, reason=reason)
        self._check_settled()

    def begin(self, name: str) -> None:
        """Re-read a stop's instance, then send the request (a first attempt)."""
        item = _Waiting(name, 0.0, time.monotonic())
        if self.action == "stop" and not self._still_to_stop(item):
            return
        self._send(item)

    def _still_to_stop(self, item: _Waiting) -> bool:
        """Is the instance still to be stopped, read again right before the request? Otherwise its outcome is set."""
        try:
            changed = recheck_before_stop(self.c, self.workspace, item.name, self.active)
        except NotFound:
            self._outcome(item.name, "skipped", "deleted meanwhile")
            return False
        except AmlopsError as err:
            self._failed(item, err)
            return False
        if changed is not None:
            self.outcomes[item.name] = changed
            self._check_settled()
            return False
        return True

    def _send(self, item: _Waiting) -> None:
        try:
            item.op = computes.begin_power(self.c, self.workspace, item.name, self.action)
        except Conflict as err:
            return self._conflict(item.name, err)
        except Unconfirmed as err:
            return self._look_later(item, err)
        except AmlopsError as err:
            return self._failed(item, err)
        if item.op is None:
            return self._outcome(item.name, "started" if self.action == "start" else "stopped")
        self.waiting.append(item)
        item.sent = time.monotonic()
        item.due = item.sent + max(item.op.retry_after, self.list_interval)

    def _look_later(self, item: _Waiting, err: Unconfirmed) -> None:
        """The answer to a start or stop was lost (a 5xx, a dropped connection): Azure may have acted. The
        workspace's next list, list_interval on, shows whether it did (``_settle_from_list``); it is sent again
        only if the instance did not change (amlops.azure.retry)."""
        item.unconfirmed += 1
        if item.unconfirmed >= UNCONFIRMED_LIMIT:
            return self._outcome(item.name, "failed", f"{err.code}: {err.message} ({UNCONFIRMED_LIMIT} answers lost)")
        self.waiting.append(item)
        item.op, item.due = None, time.monotonic() + self.list_interval

    def _send_again(self, item: _Waiting) -> None:
        """A lost answer, and the list shows the instance as it was: Azure did not act, sending again is safe
        (a stop only after the same re-read as its first request: a job may have started since)."""
        if self.action == "stop" and not self._still_to_stop(item):
            return
        self._send(item)

    def _conflict(self, name: str, err: Conflict) -> None:
        # "only allowed in Stopped state": someone or something got there first. Where is it now?
        try:
            state = computes.get_compute(self.c, self.workspace, name).state
        except NotFound:
            return self._outcome(name, "skipped", "deleted meanwhile")
        if state in TARGET_STATES[self.action]:
            return self._outcome(name, "already", f"already {state}")
        self._outcome(name, "failed", f"{err.code}: {err.message}")

    def _failed(self, item: _Waiting, err: AmlopsError) -> None:
        # Quota and capacity: Azure's reason, whatever status carried it. Tried again per policy, when due.
        if err.code in CAPACITY_CODES and item.attempt < self.capacity_retries:
            item.attempt += 1
            item.op, item.due = None, time.monotonic() + self.capacity_delay
            self.waiting.append(item)
            return
        tries = f" (after {item.attempt + 1} attempts)" if item.attempt else ""
        self._outcome(item.name, "failed", f"{err.code or type(err).__name__}: {err.message}{tries}")

    def advance(self, item: _Waiting) -> None:
        """The item's time has come: start it again, or see how every open operation of the workspace goes (and
        whether Azure acted on the requests whose answer was lost)."""
        self.waiting.remove(item)
        if not item.followed:
            return self._send(item)
        self.waiting.append(item)
        return self._settle_from_list()

    def _settle_from_list(self) -> None:
        """One list of the workspace's computes tells how every open operation of it goes: Azure ML names no
        Retry-After on compute operations and its SDK polls each every 30 s, so following a thousand starts one by one
        would cost more reads than ARM's budget has (25 a second) and see each end up to 30 s late. An instance in
        the action's final state is done; one whose lastOperation says this action failed is asked once for Azure's
        reason; the rest are looked at again with the next list, list_interval on (so a workspace costs at most one
        list per list_interval, however many of its operations are open).

        The same list settles the requests whose answer was lost, once due: an instance that got there, or is on
        its way (Azure acted), is followed as if the answer had come; one that did not change is sent again."""
        self.listed_at = time.monotonic()
        try:
            now = {c.name: c for c in computes.list_computes(self.c, self.workspace)}
        except AmlopsError:
            now = None  # looked at again with the next list; an operation still open is followed until wait_seconds
        next_look = time.monotonic() + self.list_interval
        for item in [w for w in self.waiting if w.op is not None or (w.unconfirmed and w.due <= time.monotonic())]:
            instance = now.get(item.name) if now is not None else None
            if now is not None and instance is None:
                self.waiting.remove(item)
                self._outcome(item.name, "skipped", "deleted meanwhile")
            elif instance is not None and instance.state in FINAL_STATES[self.action]:
                self.waiting.remove(item)
                self._outcome(item.name, "started" if self.action == "start" else "stopped")
            elif item.op is None and instance is not None and instance.state not in TARGET_STATES[self.action]:
                self.waiting.remove(item)
                self._send_again(item)  # its answer was lost and the instance did not change: Azure did not act
            elif item.op is not None and instance is not None and power_action_failed(instance.last_operation, self.action):
                self.waiting.remove(item)
                self._check(item)  # Azure's own words for the failure: the operation's status says them
            elif time.monotonic() - item.started >= self.wait_seconds:
                self.waiting.remove(item)
                what = f"{self.action} of compute '{item.name}'"
                self._failed(item, TimedOut(f"{what} still running after {self.wait_seconds:.0f} s; Azure carries on with it."))
            else:
                item.due = next_look
        if not self.waiting:
            self.pace.interval(self, False)  # nothing open here now: the other workspaces may list more often

    def _check(self, item: _Waiting) -> None:
        assert item.op is not None, "only an operation Azure accepted is checked"
        try:
            done = operations.check(self.c, self.workspace.subscription, item.op)
        except AmlopsError as err:
            return self._failed(item, err)
        if done:
            return self._outcome(item.name, "started" if self.action == "start" else "stopped")
        self.waiting.append(item)
        item.due = time.monotonic() + self.list_interval  # the list said failed, the operation not yet: ask again
        return None

    def catch_up(self) -> None:
        """Bring each operation's next look forward to what the list pace allows now: at the end of a fleet fewer
        workspaces have operations open than when these were sent, so each may be listed more often (the last stops
        are seen done about a second after Azure ends them, not the busier moment's interval later)."""
        if not self.waiting:
            return
        interval = self.list_interval
        for w in self.waiting:
            if w.op is not None:
                w.due = min(w.due, max(self.listed_at, w.sent) + max(w.op.retry_after, interval))

    def poll_due(self) -> None:
        now = time.monotonic()
        for item in [w for w in self.waiting if w.due <= now]:
            if item in self.waiting and item.due <= now:  # one list may have settled or rescheduled it meanwhile
                self.advance(item)


class Surveyed(Model):
    """What one subscription's run found and did: every selected instance's outcome, and those outside the idle policy."""

    outcomes: list[Outcome]
    idle_violations: list[dict[str, str]]


@task(name="survey_and_power_subscription", **{**TASK_DEFAULTS, "retries": 0})
def survey_and_power_subscription(
    workspaces: list[ResourceId],
    action: Action,
    selector: Selector,
    policy: IdlePolicy | None,
    wait_seconds: float = 900,
    capacity_retries: int = 2,
    capacity_delay: float = 60,
    progress_id: UUID | None = None,
    total_workspaces: int = 0,
) -> Surveyed:
    """Survey, plan (``plan_run``) and power one subscription's workspaces in one pass: each workspace is surveyed
    when its lane comes to it and its instances acted on at once, so ARM's write budget starts working after one
    workspace's two reads rather than after the whole subscription's (at 50 workspaces, the survey was seconds of
    the budget left idle: bench/fleet_platform.py). The same rules decide each instance, and a stop still reads it
    again just before it is sent. Progress counts workspaces, whose instances are not known before their survey."""
    logger = get_run_logger() if TaskRunContext.get() else None
    lanes = max(1, min(WORKSPACES_AT_ONCE, len(workspaces)))
    pace, lock = _ListPace(), threading.Lock()
    planned: list[Outcome] = []
    violations: list[dict[str, str]] = []

    def names_of(workspace: ResourceId) -> list[str]:
        plan = plan_run(action, selector, policy, [_survey(workspace)], datetime.now(UTC), dry_run=False)
        with lock:
            planned.extend(plan.outcomes)
            violations.extend(plan.idle_violations)
        return plan.to_act.get(str(workspace), [])

    def lane(share: list[ResourceId]) -> list[Outcome]:
        settled = partial(Progress.tick, progress_id, total_workspaces, logger, "workspaces")
        return _power_lane(share, names_of, action, wait_seconds, capacity_retries, capacity_delay, pace, settled)

    with ThreadPoolExecutor(max_workers=lanes) as pool:
        acted = [outcome for outcomes in pool.map(lane, [workspaces[i::lanes] for i in range(lanes)]) for outcome in outcomes]
    return Surveyed(outcomes=planned + acted, idle_violations=violations)


def _power_lane(
    share: list[ResourceId],
    names_of: Callable[[ResourceId], list[str]],
    action: Action,
    wait_seconds: float,
    capacity_retries: int,
    capacity_delay: float,
    pace: _ListPace,
    on_settled: Callable[[], None] | None = None,
) -> list[Outcome]:
    """One thread's workspaces, one after another, without waiting for a workspace's operations before the next
    workspace's requests: an instance start takes Azure ~90 s, and waiting for each workspace in turn would leave
    the write budget idle for that long each time (bench/fleet_start.py). Every workspace's operations are
    followed, when due, between the requests of the next ones; then the rest are waited for. ``names_of`` names a
    workspace's instances to act on when its turn comes (it may survey the workspace then)."""
    batches: list[_Batch] = []
    for workspace in share:
        names = names_of(workspace)
        batch = _Batch(workspace, action, wait_seconds, capacity_retries, capacity_delay, pace, on_settled)
        batches.append(batch)
        for name in names:
            for open_batch in batches:
                open_batch.poll_due()
            batch.begin(name)
        batch.expect(len(names))
    _finish_all(batches)
    return [o for batch in batches for o in batch.outcomes.values()]


def _finish_all(batches: list[_Batch]) -> None:
    """Wait for every batch's open operations, each polled when due, sleeping until the next one is (through the
    clients' sleep, which tests make virtual)."""
    while pending := [b for b in batches if b.waiting]:
        for b in pending:
            b.catch_up()
        batch, item = min(((b, w) for b in pending for w in b.waiting), key=lambda pair: pair[1].due)
        pause = item.due - time.monotonic()
        if pause > 0:
            batch.c.sleep(pause)
        batch.advance(item)  # its time has come, whichever clock the sleep moved (tests move the emulator's)
        for b in pending:
            b.poll_due()


@task(name="set_idle_shutdown", **TASK_DEFAULTS)
def set_idle_shutdown(workspace: ResourceId, name: str, duration: str) -> str:
    computes.update_idle_shutdown(clients(), workspace, name, duration)
    return duration


@task(name="selected_workspaces", **TASK_DEFAULTS)
def selected_workspaces(selector: Selector) -> list[ResourceId]:
    """The selector's workspaces, each it names checked to exist before anything is written."""
    c = clients()
    found = {str(ResourceId.parse(w)).lower(): ResourceId.parse(w) for w in selector.workspaces}
    with ThreadPoolExecutor(max_workers=max(1, min(WORKSPACES_AT_ONCE, len(selector.subscriptions)))) as pool:  # the fleet waits for this
        listed = list(pool.map(partial(workspaces.list_workspaces, c), selector.subscriptions))
    for found_in_subscription in listed:
        for ws in found_in_subscription:
            found.setdefault(ws.id.lower(), ResourceId.parse(ws.id))
    for named in (ResourceId.parse(w) for w in selector.workspaces):
        try:
            workspaces.get_workspace(c, named)
        except NotFound as err:
            raise InvalidInput(f"Workspace {named} does not exist (or you cannot see it): fix the selector.") from err
    return list(found.values())
