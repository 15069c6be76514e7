"""train-with-retries: a command job resubmitted from its latest checkpoint after preemption or node failure.

Every attempt carries the lineage's tag and a deterministic name, so a flow that crashes after
submitting finds and follows its attempt on restart: never two live attempts for one lineage.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

from prefect import flow, get_run_logger
from prefect.artifacts import create_table_artifact
from pydantic import BaseModel, Field

from amlops.errors import TrainingStopped
from amlops.models import Job, ResourceId
from amlops.training import (
    Attempt,
    Budgets,
    Checkpoint,
    CheckpointLocation,
    attempt_name,
    classify,
    compute_for,
    lineage_of,
    next_step,
    time_lost,
    watch_until_end,
)
from tasks import training as t


class TrainingReport(BaseModel):
    lineage: str
    outcome: str
    attempts: list[Attempt] = Field(default_factory=list)


def _at(iso: str) -> datetime:
    return datetime.fromisoformat(iso.replace("Z", "+00:00"))


def _seconds(start: str, end: str) -> float:
    if not start or not end:
        return 0.0
    return max(0.0, (_at(end) - _at(start)).total_seconds())


def _end_of(job: Job) -> str | None:
    if job.status == "Canceled" and job.tags.get(t.ENDED_TAG) == "queued too long":
        return "queued too long"
    return classify(job.status, job.error_code, job.error_message)


def _attempt(job: Job) -> Attempt:
    end = _end_of(job)
    started, ended = job.properties.get("startTimeUtc", ""), job.properties.get("endTimeUtc", "")
    return Attempt(
        number=int(job.tags.get(t.ATTEMPT_TAG, "0")),
        job=job.name,
        compute=job.compute or "",
        resumed_from=job.tags.get(t.RESUMED_TAG) or None,
        status=job.status,
        end=end,  # type: ignore[arg-type]
        started=started,
        ended=ended,
        seconds=_seconds(started, ended),
    )


def _watch(workspace: ResourceId, name: str, every: float, queued_limit_minutes: float | None = None) -> Job:
    """Until the job ends, its end read twice (see watch_until_end). A job still Queued after
    ``queued_limit_minutes`` of watching is cancelled: the tier has no place for it."""
    logger = get_run_logger()
    queued = {"for": 0.0, "limit": queued_limit_minutes}

    def on_running(job: Job) -> None:
        queued["for"] = (queued["for"] or 0.0) + every if job.status in ("NotStarted", "Queued") else 0.0
        limit = queued["limit"]
        if limit is not None and (queued["for"] or 0.0) >= limit * 60:
            logger.warning("%s has waited in the queue %.0f s; cancelling it (counts toward escalation)", name, queued["for"])
            t.give_up_queued.fn(workspace, name, "queued too long")
            queued["limit"] = None  # cancelled: now wait for the end like any other

    # Plain calls, deliberately: a status read every few seconds for hours would be thousands of task runs
    # on the Prefect server; a failed read is handled here, not by task retries.
    return watch_until_end(
        lambda: t.read_job.fn(workspace, name), time.sleep, every, lambda err: logger.warning("Reading %s failed (%s); still watching", name, err), on_running
    )


def _lost(attempt: Attempt, checkpoint: Checkpoint | None) -> float:
    """Training time thrown away: from the last complete checkpoint of this attempt (or its start) to its end."""
    if attempt.end in (None, "completed") or not attempt.ended:
        return 0.0
    since = attempt.started
    if checkpoint and checkpoint.written_at and since and _at(checkpoint.written_at) > _at(since):
        since = checkpoint.written_at
    return _seconds(since, attempt.ended)


@flow(name="train-with-retries", log_prints=True)
def train_with_retries(
    workspace: str,
    command: str,
    environment: str,
    compute: str,
    checkpoint: CheckpointLocation,
    resume_arg: str = "--resume-from",
    instance_count: int = 1,
    lineage: str | None = None,
    experiment: str = "amlops-training",
    budgets: Budgets | None = None,
    dedicated_compute: str | None = None,
    watch_seconds: float = 30,
    environment_variables: dict[str, str] | None = None,
    inputs: dict[str, str] | None = None,
) -> TrainingReport:
    logger = get_run_logger()
    ws = ResourceId.parse(workspace).require_workspace()
    budgets = budgets or Budgets()
    lineage = lineage or lineage_of(str(ws), command, compute, checkpoint.uri())
    account, container = t.check_training_inputs(ws, [compute] + ([dedicated_compute] if dedicated_compute else []), environment, checkpoint)
    history = t.lineage_jobs(ws, lineage)
    attempts = [_attempt(j) for j in history]
    # The time budget runs from the lineage's first attempt, so a restarted flow does not reset it.
    first = min((a.started for a in attempts if a.started), default="")
    began = _at(first) if first else datetime.now(UTC)
    current = next((j for j in history if _end_of(j) is None), None)
    if current is not None:
        logger.info("Following attempt %s of lineage %s, already running", current.name, lineage)
        attempts = [a for a in attempts if a.job != current.name]
    while True:
        if current is None:
            step, why = next_step(attempts, budgets, (datetime.now(UTC) - began).total_seconds() / 60)
            if step != "retry":
                return _finish(lineage, attempts, step, why)
            if attempts:
                logger.info("Retrying: %s; backing off %s s", why, budgets.backoff_seconds)
                time.sleep(budgets.backoff_seconds)
            resume = t.find_checkpoint(account, container, checkpoint)
            number = max([a.number for a in attempts], default=0) + 1
            target = compute_for(attempts, budgets, compute, dedicated_compute)
            resume_uri = f"azureml://datastores/{checkpoint.datastore}/paths/{resume.path}" if resume else ""
            variables = {
                **(environment_variables or {}),
                "AMLOPS_CHECKPOINT_DIR": checkpoint.uri(),
                "AMLOPS_RESUME_STEP": str(resume.step if resume else 0),
            }
            tags = {t.LINEAGE_TAG: lineage, t.ATTEMPT_TAG: str(number), t.RESUMED_TAG: resume.path if resume else ""}
            full_command = f"{command} {resume_arg} {resume_uri}" if resume else command
            current = t.submit_attempt(ws, attempt_name(lineage, number), full_command, environment, target, tags, variables, instance_count, experiment, inputs)
            logger.info("Submitted %s on %s, resuming from %s", current.name, target, resume.path if resume else "the start")
        ended = _watch(ws, current.name, watch_seconds, budgets.queued_minutes_limit)
        attempt = _attempt(ended)
        attempt = attempt.model_copy(update={"lost_seconds": _lost(attempt, t.find_checkpoint(account, container, checkpoint))})
        logger.info("Attempt %s (%s) ended: %s", attempt.number, attempt.job, attempt.end)
        attempts.append(attempt)
        current = None


def _finish(lineage: str, attempts: list[Attempt], step: str, why: str) -> TrainingReport:
    rows = [a.model_dump() for a in attempts]
    create_table_artifact(key="training-attempts", table=rows, description=f"{lineage}: {why}; {time_lost(attempts)}")
    report = TrainingReport(lineage=lineage, outcome=why, attempts=attempts)
    if step != "done":
        raise TrainingStopped(f"Training {lineage} stopped: {why}.")
    get_run_logger().info("Training %s %s; %s attempt(s), %s", lineage, why, len(attempts), time_lost(attempts))
    return report
