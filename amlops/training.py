"""Checkpointed training, as data and pure decisions.

Checkpoint layout, the contract with the training script: under the checkpoint path, one folder per
checkpoint named ``step-<N>`` (N an integer, zero-padded or not), and inside it a ``_COMPLETE`` marker
written last. A folder without the marker is partial (the node died while writing) and never resumed from.
The marker may hold the ISO 8601 UTC time the checkpoint was complete; amlops prefers it to the blob's
Last-Modified, which has one-second resolution, when it counts the training time a preemption lost.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from typing import Literal

from pydantic import Field

from amlops.azure.errors import AmlopsError
from amlops.models import Job, Model

COMPLETE_MARKER = "_COMPLETE"
_STEP = re.compile(r"^step-(\d+)$")


class Checkpoint(Model):
    path: str  # blob prefix of the checkpoint folder, ending in '/'
    step: int
    complete: bool
    files: int = 0
    written_at: str = ""


def group_checkpoints(prefix: str, blobs: list[tuple[str, str]]) -> list[Checkpoint]:
    """Checkpoints from (blob name, last modified) pairs under ``prefix``, oldest step first."""
    base = prefix.rstrip("/") + "/" if prefix else ""
    found: dict[str, dict[str, object]] = {}
    for name, modified in blobs:
        if not name.startswith(base):
            continue
        folder, _, rest = name[len(base):].partition("/")
        m = _STEP.match(folder)
        if not m or not rest:
            continue
        entry = found.setdefault(folder, {"step": int(m.group(1)), "files": 0, "complete": False, "written_at": ""})
        entry["files"] = int(entry["files"]) + 1  # type: ignore[call-overload]
        entry["complete"] = bool(entry["complete"]) or rest == COMPLETE_MARKER
        entry["written_at"] = max(str(entry["written_at"]), modified)
    return sorted(
        (Checkpoint(path=f"{base}{folder}/", step=int(e["step"]), complete=bool(e["complete"]), files=int(e["files"]), written_at=str(e["written_at"])) for folder, e in found.items()),  # type: ignore[call-overload]
        key=lambda c: c.step,
    )


def latest_complete(checkpoints: list[Checkpoint]) -> Checkpoint | None:
    complete = [c for c in checkpoints if c.complete]
    return complete[-1] if complete else None


class CheckpointLocation(Model):
    """Where a lineage's checkpoints live: a datastore and a path inside its container."""

    datastore: str
    path: str = Field(description="folder inside the datastore's container, e.g. runs/forecast")

    def uri(self) -> str:
        return f"azureml://datastores/{self.datastore}/paths/{self.path.strip('/')}/"


# -- attempts, ends and budgets

INFRA_REASONS = {"LowPriorityNodePreempted": "preempted", "NodeFailure": "node failure", "ServiceError": "infrastructure"}
End = Literal["completed", "preempted", "node failure", "infrastructure", "user error", "cancelled"]
RETRIABLE: set[str] = {"preempted", "node failure", "infrastructure"}


def classify(status: str, failure_reason: str | None) -> End | None:
    """How a job ended, or None while it has not."""
    if status == "Completed":
        return "completed"
    if status == "Canceled":
        return "cancelled"
    if status in ("Failed", "NotResponding"):
        return INFRA_REASONS.get(failure_reason or "", "user error")  # type: ignore[return-value]
    return None


def watch_until_end(read: Callable[[], Job], sleep: Callable[[float], None], every: float, on_error: Callable[[AmlopsError], None]) -> Job:
    """Read a job until it has ended. A failed read is not an end; an end is read twice before it is
    believed, so a status seen once (a stale replica, a flicker) never decides a retry."""
    while True:
        try:
            job = read()
            if classify(job.status, job.failure_reason) is not None:
                confirmed = read()
                if confirmed.status == job.status:
                    return confirmed
        except AmlopsError as err:
            on_error(err)
        sleep(every)


class Budgets(Model):
    infra_retries: int = Field(default=5, ge=0, description="resubmissions after preemption, node failure or infrastructure errors")
    user_retries: int = Field(default=0, ge=0, description="resubmissions after the script itself failed")
    total_minutes: float = Field(default=24 * 60, gt=0)
    backoff_seconds: float = Field(default=30, ge=0)
    escalate_after_preemptions: int | None = Field(default=None, ge=1, description="then run on the dedicated compute")


class Attempt(Model):
    number: int
    job: str
    compute: str
    resumed_from: str | None = None
    status: str = ""
    end: End | None = None
    started: str = ""
    ended: str = ""
    seconds: float = 0.0
    lost_seconds: float = 0.0


def attempt_name(lineage: str, number: int) -> str:
    """Deterministic: a flow that crashed after submitting finds its attempt instead of submitting another."""
    return f"{lineage}-{number:03d}"


def lineage_of(*parts: str) -> str:
    return "train-" + hashlib.sha256("|".join(parts).lower().encode()).hexdigest()[:10]


def next_step(attempts: list[Attempt], budgets: Budgets, elapsed_minutes: float) -> tuple[str, str]:
    """('done'|'stop'|'retry', why) after the last attempt ended."""
    if not attempts:
        return "retry", "first attempt"
    last = attempts[-1]
    if last.end == "completed":
        return "done", f"completed in attempt {last.number}"
    if last.end == "cancelled":
        return "stop", f"attempt {last.number} was cancelled by a person; not retried"
    infra = sum(1 for a in attempts if a.end in RETRIABLE)
    user = sum(1 for a in attempts if a.end == "user error")
    if last.end == "user error" and user > budgets.user_retries:
        return "stop", f"the script failed {user} time(s); the user-error budget is {budgets.user_retries} retries"
    if last.end in RETRIABLE and infra > budgets.infra_retries:
        return "stop", f"{infra} infrastructure ends ({last.end} last); the budget is {budgets.infra_retries} retries"
    if elapsed_minutes >= budgets.total_minutes:
        return "stop", f"the total time budget of {budgets.total_minutes:g} minutes is spent"
    return "retry", f"attempt {last.number} ended: {last.end}"


def compute_for(attempts: list[Attempt], budgets: Budgets, compute: str, dedicated: str | None) -> str:
    """Low-priority until it has been preempted often enough, then the dedicated compute when there is one."""
    preemptions = sum(1 for a in attempts if a.end == "preempted")
    if dedicated and budgets.escalate_after_preemptions and preemptions >= budgets.escalate_after_preemptions:
        return dedicated
    return compute
