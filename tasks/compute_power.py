"""Tasks of the fleet start/stop: one per workspace, not one per instance (a Prefect server records
only a few dozen task runs a second). Inside a task, instances run concurrently (the clients pace
every request under ARM's budget), each with its own outcome: one slow or failing instance holds
up no other."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from logging import Logger, LoggerAdapter
from typing import Any
from uuid import UUID

from prefect import get_run_logger, task
from prefect.artifacts import update_progress_artifact
from prefect.context import TaskRunContext

from amlops.azure import computes, jobs, workspaces
from amlops.errors import AmlopsError, Conflict, InvalidInput, NotFound
from amlops.fleet import CAPACITY_CODES, TARGET_STATES, Action, Outcome, Result, Selector, Survey, decide
from amlops.models import ResourceId
from tasks.common import TASK_DEFAULTS, clients

INSTANCE_THREADS = 16

class Progress:
    """Counts finished instances across tasks and keeps the progress artifact up to date."""

    _lock = threading.Lock()
    _done: dict[UUID, int] = {}

    @classmethod
    def tick(cls, artifact_id: UUID | None, total: int, logger: Logger | LoggerAdapter[Logger] | None = None) -> None:
        if not artifact_id or not total:
            return
        with cls._lock:
            cls._done[artifact_id] = done = cls._done.get(artifact_id, 0) + 1
        if done == total or done % max(1, total // 50) == 0:
            update_progress_artifact(artifact_id=artifact_id, progress=100.0 * done / total)
        if logger is not None and (done == total or done % max(1, total // 10) == 0):  # a line per tenth in the terminal
            logger.info("%s of %s instances done", done, total)


@task(name="survey_workspace", **TASK_DEFAULTS)
def survey_workspace(workspace: ResourceId) -> Survey:
    c = clients()
    busy: dict[str, list[str]] = {}
    for job in jobs.active_jobs(c, workspace):
        if job.compute:
            busy.setdefault(job.compute, []).append(job.name)
    return Survey(workspace=str(workspace), computes=computes.list_computes(c, workspace), busy=busy)


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


def _power_one(workspace: ResourceId, name: str, action: Action, wait_seconds: float, capacity_retries: int, capacity_delay: float, active: _ActiveJobs) -> Outcome:
    c = clients()
    done: Result = "started" if action == "start" else "stopped"
    attempt = 0
    if action == "stop":
        try:
            changed = recheck_before_stop(c, workspace, name, active)
        except NotFound:
            return Outcome(workspace=str(workspace), compute=name, action=action, result="skipped", reason="deleted meanwhile")
        if changed is not None:
            return changed
    while True:
        try:
            (computes.start_compute if action == "start" else computes.stop_compute)(c, workspace, name, wait_seconds)
            return Outcome(workspace=str(workspace), compute=name, action=action, result=done)
        except Conflict as err:
            # "only allowed in Stopped state": someone or something got there first. Where is it now?
            try:
                state = computes.get_compute(c, workspace, name).state
            except NotFound:
                return Outcome(workspace=str(workspace), compute=name, action=action, result="skipped", reason="deleted meanwhile")
            if state in TARGET_STATES[action]:
                return Outcome(workspace=str(workspace), compute=name, action=action, result="already", reason=f"already {state}")
            return Outcome(workspace=str(workspace), compute=name, action=action, result="failed", reason=f"{err.code}: {err.message}")
        except AmlopsError as err:
            # Quota and capacity: Azure's reason, whatever status carried it. Retried per policy.
            if err.code in CAPACITY_CODES and attempt < capacity_retries:
                attempt += 1
                c.sleep(capacity_delay)
                continue
            tries = f" (after {attempt + 1} attempts)" if attempt else ""
            return Outcome(workspace=str(workspace), compute=name, action=action, result="failed", reason=f"{err.code or type(err).__name__}: {err.message}{tries}")


@task(name="power_computes", **{**TASK_DEFAULTS, "retries": 0})
def power_computes(
    workspace: ResourceId,
    names: list[str],
    action: Action,
    wait_seconds: float = 900,
    capacity_retries: int = 2,
    capacity_delay: float = 60,
    progress_id: UUID | None = None,
    total: int = 0,
) -> list[Outcome]:
    """Start or stop these instances of one workspace; every instance ends with an outcome, none raises."""

    # The instance threads run outside the task's context: they log through this one (none when the body runs bare).
    logger = get_run_logger() if TaskRunContext.get() else None
    active = _ActiveJobs(workspace)

    def one(name: str) -> Outcome:
        outcome = _power_one(workspace, name, action, wait_seconds, capacity_retries, capacity_delay, active)
        Progress.tick(progress_id, total, logger)
        return outcome

    with ThreadPoolExecutor(max_workers=max(1, min(INSTANCE_THREADS, len(names)))) as pool:
        return list(pool.map(one, names))


@task(name="set_idle_shutdown", **TASK_DEFAULTS)
def set_idle_shutdown(workspace: ResourceId, name: str, duration: str) -> str:
    computes.update_idle_shutdown(clients(), workspace, name, duration)
    return duration


@task(name="selected_workspaces", **TASK_DEFAULTS)
def selected_workspaces(selector: Selector) -> list[ResourceId]:
    """The selector's workspaces, each it names checked to exist before anything is written."""
    c = clients()
    found = {str(ResourceId.parse(w)).lower(): ResourceId.parse(w) for w in selector.workspaces}
    for sub in selector.subscriptions:
        for ws in workspaces.list_workspaces(c, sub):
            found.setdefault(ws.id.lower(), ResourceId.parse(ws.id))
    for named in (ResourceId.parse(w) for w in selector.workspaces):
        try:
            workspaces.get_workspace(c, named)
        except NotFound as err:
            raise InvalidInput(f"Workspace {named} does not exist (or you cannot see it): fix the selector.") from err
    return list(found.values())
