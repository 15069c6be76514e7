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
from datetime import datetime
from typing import Any, Literal

from pydantic import Field

from amlops.errors import AmlopsError
from amlops.models import COMPLETE_MARKER, Checkpoint, Job, Model

# The tags every attempt carries: a restarted flow finds its lineage's attempts, their order, what each
# resumed from, and why amlops itself ended one (it cancelled a job stuck in Queued), on the jobs themselves.
LINEAGE_TAG, ATTEMPT_TAG, RESUMED_TAG = "amlops.lineage", "amlops.attempt", "amlops.resumed_from"
ENDED_TAG = "amlops.ended"
_STEP = re.compile(r"^step-(\d+)$")


def group_checkpoints(prefix: str, blobs: list[tuple[str, str]]) -> list[Checkpoint]:
    """Checkpoints from (blob name, last modified) pairs under ``prefix``, oldest step first."""
    base = prefix.rstrip("/") + "/" if prefix else ""
    found: dict[str, dict[str, Any]] = {}
    for name, modified in blobs:
        if not name.startswith(base):
            continue
        folder, _, rest = name[len(base):].partition("/")
        m = _STEP.match(folder)
        if not m or not rest:
            continue
        entry = found.setdefault(folder, {"step": int(m.group(1)), "files": 0, "complete": False, "written_at": ""})
        entry["files"] = int(entry["files"]) + 1
        entry["complete"] = bool(entry["complete"]) or rest == COMPLETE_MARKER
        entry["written_at"] = max(str(entry["written_at"]), modified)
    return sorted(
        (Checkpoint(path=f"{base}{folder}/", step=int(e["step"]), complete=bool(e["complete"]), files=int(e["files"]), written_at=str(e["written_at"])) for folder, e in found.items()),
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

End = Literal["completed", "preempted", "node failure", "infrastructure", "queued too long", "user error", "cancelled"]
RETRIABLE: set[str] = {"preempted", "node failure", "infrastructure", "queued too long"}
# Ends that say the low-priority tier is not giving this job a place: they count toward escalation.
TIER_ENDS: set[str] = {"preempted", "queued too long"}

# Azure ML's run-history error reads "AzureMLCompute job failed.\n<Reason>: <text>" and its code is coarse: a
# preemption arrives as code UserError ("AzureMLCompute job failed. PreemptionError: Nodes of this job got
# pre-empted...", MicrosoftDocs/azure-docs#66288). So the reason in the message decides, then the code.
_MESSAGE_REASONS: tuple[tuple[tuple[str, ...], End], ...] = (
    (("preemptionerror", "pre-empted", "preempted"), "preempted"),
    (("unusablenode", "unusable node", "nodefailure", "node failure", "nodenotready"), "node failure"),
    (("internalservererror", "serviceerror", "systemerror"), "infrastructure"),
)


def classify(status: str, error_code: str | None = None, error_message: str | None = None) -> End | None:
    """How a job ended, from its status and the error run history reports; None while it has not ended."""
    if status == "Completed":
        return "completed"
    if status == "Canceled":
        return "cancelled"
    if status not in ("Failed", "NotResponding"):
        return None
    message = (error_message or "").lower()
    for needles, end in _MESSAGE_REASONS:
        if any(n in message for n in needles):
            return end
    if status == "NotResponding" or (error_code or "").lower() in ("systemerror", "serviceerror", "internalservererror"):
        return "infrastructure"
    return "user error"


def watch_until_end(
    read: Callable[[], Job],
    sleep: Callable[[float], None],
    every: float,
    on_error: Callable[[AmlopsError], None],
    on_running: Callable[[Job], None] = lambda job: None,
) -> Job:
    """Read a job until it has ended. A failed read is not an end; an end is read twice before it is
    believed, so a status seen once (a stale replica, a flicker) never decides a retry. ``on_running``
    sees each read of a job still going (to give up on one queued too long)."""
    while True:
        try:
            job = read()
            if classify(job.status, job.error_code, job.error_message) is not None:
                confirmed = read()
                if confirmed.status == job.status:
                    return confirmed
            else:
                on_running(job)
        except AmlopsError as err:
            on_error(err)
        sleep(every)


class Budgets(Model):
    infra_retries: int = Field(default=5, ge=0, description="resubmissions after preemption, node failure or infrastructure errors")
    user_retries: int = Field(default=0, ge=0, description="resubmissions after the script itself failed")
    total_minutes: float = Field(default=24 * 60, gt=0)
    backoff_seconds: float = Field(default=30, ge=0)
    escalate_after_preemptions: int | None = Field(default=None, ge=1, description="then run on the dedicated compute (a job stuck in Queued counts too)")
    queued_minutes_limit: float | None = Field(default=None, gt=0, description="a job still Queued after this long is cancelled and counts toward escalation")


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


def duration(seconds: float) -> str:
    """Every figure of training time, in the terminal, the logs and the report, says it the same way."""
    return f"{seconds:.1f} s"


def attempt_line(a: Attempt) -> str:
    """One attempt as the terminal shows it (``amlops train`` and the demo)."""
    return f"attempt {a.number} ({a.job}): {a.end}, resumed from {a.resumed_from or 'the start'}, {duration(a.seconds)} on {a.compute}, lost {duration(a.lost_seconds)}"


def time_lost(attempts: list[Attempt]) -> str:
    """The one summary of what preemptions and failures cost, shared by the report artifact and the terminal."""
    return f"training time lost {duration(sum(a.lost_seconds for a in attempts))}"


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
    preemptions = sum(1 for a in attempts if a.end in TIER_ENDS)
    if dedicated and budgets.escalate_after_preemptions and preemptions >= budgets.escalate_after_preemptions:
        return dedicated
    return compute


# -- what a job says about its attempt


def _at(iso: str) -> datetime:
    return datetime.fromisoformat(iso.replace("Z", "+00:00"))


def seconds_between(start: str, end: str) -> float:
    """Seconds from one ISO 8601 time to another; 0 when either is unknown (never negative)."""
    if not start or not end:
        return 0.0
    return max(0.0, (_at(end) - _at(start)).total_seconds())


def end_of(job: Job) -> End | None:
    """How an attempt's job ended; one amlops cancelled for waiting too long says so in its tag."""
    if job.status == "Canceled" and job.tags.get(ENDED_TAG) == "queued too long":
        return "queued too long"
    return classify(job.status, job.error_code, job.error_message)


def attempt_of(job: Job) -> Attempt:
    started, ended = job.properties.get("startTimeUtc", ""), job.properties.get("endTimeUtc", "")
    return Attempt(
        number=int(job.tags.get(ATTEMPT_TAG, "0")),
        job=job.name,
        compute=job.compute or "",
        resumed_from=job.tags.get(RESUMED_TAG) or None,
        status=job.status,
        end=end_of(job),
        started=started,
        ended=ended,
        seconds=seconds_between(started, ended),
    )


def lost_seconds(attempt: Attempt, checkpoint: Checkpoint | None) -> float:
    """Training time thrown away: from the last complete checkpoint of this attempt (or its start) to its end."""
    if attempt.end in (None, "completed") or not attempt.ended:
        return 0.0
    since = attempt.started
    if checkpoint and checkpoint.written_at and since and _at(checkpoint.written_at) > _at(since):
        since = checkpoint.written_at
    return seconds_between(since, attempt.ended)


def budget_began(attempts: list[Attempt], now: datetime) -> datetime:
    """The time budget runs from the lineage's first attempt, so a restarted flow does not reset it."""
    first = min((a.started for a in attempts if a.started), default="")
    return _at(first) if first else now


class QueueWatch:
    """Counts how long a watched job has waited in the queue, between reads ``every`` seconds apart: ``seen``
    says when it has waited ``limit_minutes`` (once: after that it is cancelled and waited for like any other)."""

    def __init__(self, every: float, limit_minutes: float | None) -> None:
        self.every, self.limit_minutes, self.queued_for = every, limit_minutes, 0.0

    def seen(self, job: Job) -> bool:
        self.queued_for = self.queued_for + self.every if job.status in ("NotStarted", "Queued") else 0.0
        if self.limit_minutes is not None and self.queued_for >= self.limit_minutes * 60:
            self.limit_minutes = None
            return True
        return False


class Submission(Model):
    """The next attempt of a lineage, as it is submitted."""

    name: str
    number: int
    compute: str
    command: str
    tags: dict[str, str]
    variables: dict[str, str]
    resumed_from: str = ""


def next_submission(
    lineage: str,
    attempts: list[Attempt],
    budgets: Budgets,
    command: str,
    resume_arg: str,
    compute: str,
    dedicated: str | None,
    checkpoint: CheckpointLocation,
    resume: Checkpoint | None,
    environment_variables: dict[str, str] | None = None,
) -> Submission:
    """Numbered after the last attempt, on the compute escalation picks, resuming from ``resume`` when there
    is one: the script gets the checkpoint's URI after ``resume_arg`` and its step in AMLOPS_RESUME_STEP."""
    number = max([a.number for a in attempts], default=0) + 1
    resume_uri = f"azureml://datastores/{checkpoint.datastore}/paths/{resume.path}" if resume else ""
    return Submission(
        name=attempt_name(lineage, number),
        number=number,
        compute=compute_for(attempts, budgets, compute, dedicated),
        command=f"{command} {resume_arg} {resume_uri}" if resume else command,
        tags={LINEAGE_TAG: lineage, ATTEMPT_TAG: str(number), RESUMED_TAG: resume.path if resume else ""},
        variables={**(environment_variables or {}), "AMLOPS_CHECKPOINT_DIR": checkpoint.uri(), "AMLOPS_RESUME_STEP": str(resume.step if resume else 0)},
        resumed_from=resume.path if resume else "",
    )
