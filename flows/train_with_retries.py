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
    CheckpointLocation,
    QueueWatch,
    attempt_of,
    budget_began,
    end_of,
    lineage_of,
    lost_seconds,
    next_step,
    next_submission,
    time_lost,
    watch_until_end,
)
from tasks import training as t


class TrainingReport(BaseModel):
    lineage: str
    outcome: str
    attempts: list[Attempt] = Field(default_factory=list)


def _watch(workspace: ResourceId, name: str, every: float, queued_limit_minutes: float | None = None) -> Job:
    """Until the job ends, its end read twice (see watch_until_end). A job still Queued after
    ``queued_limit_minutes`` of watching is cancelled: the tier has no place for it."""
    logger = get_run_logger()
    queue = QueueWatch(every, queued_limit_minutes)

    def on_running(job: Job) -> None:
        if queue.seen(job):
            logger.warning("%s has waited in the queue %.0f s; cancelling it (counts toward escalation)", name, queue.queued_for)
            t.give_up_queued.fn(workspace, name, "queued too long")

    # Plain calls, deliberately: a status read every few seconds for hours would be thousands of task runs
    # on the Prefect server; a failed read is handled here, not by task retries.
    return watch_until_end(
        lambda: t.read_job.fn(workspace, name), time.sleep, every, lambda err: logger.warning("Reading %s failed (%s); still watching", name, err), on_running
    )


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
    attempts = [attempt_of(j) for j in history]
    began = budget_began(attempts, datetime.now(UTC))
    current = next((j for j in history if end_of(j) is None), None)
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
            nxt = next_submission(lineage, attempts, budgets, command, resume_arg, compute, dedicated_compute, checkpoint, resume, environment_variables)
            current = t.submit_attempt(ws, nxt.name, nxt.command, environment, nxt.compute, nxt.tags, nxt.variables, instance_count, experiment, inputs)
            logger.info("Submitted %s on %s, resuming from %s", current.name, nxt.compute, nxt.resumed_from or "the start")
        ended = _watch(ws, current.name, watch_seconds, budgets.queued_minutes_limit)
        attempt = attempt_of(ended)
        attempt = attempt.model_copy(update={"lost_seconds": lost_seconds(attempt, t.find_checkpoint(account, container, checkpoint))})
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
