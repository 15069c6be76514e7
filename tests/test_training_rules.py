"""The pure rules of train-with-retries: how an end is classified, when to stop, where to run."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from amlops.errors import TransientError
from amlops.models import Job
from amlops.training import (
    ATTEMPT_TAG,
    ENDED_TAG,
    LINEAGE_TAG,
    RESUMED_TAG,
    Attempt,
    Budgets,
    Checkpoint,
    CheckpointLocation,
    End,
    QueueWatch,
    attempt_name,
    attempt_of,
    budget_began,
    classify,
    compute_for,
    lost_seconds,
    next_step,
    next_submission,
    watch_until_end,
)


def _a(n: int, end: End) -> Attempt:
    return Attempt(number=n, job=attempt_name("L", n), compute="lowpri", end=end)


PREEMPTED = "AzureMLCompute job failed.\nPreemptionError: Nodes of this job got pre-empted. Check if the run has failed or restarted. Reason: Received pre-emption warning signal."
SCRIPT_FAILED = "AzureMLCompute job failed.\nJobFailed: Submitted script failed with a non-zero exit code; see the driver log file for details."


@pytest.mark.parametrize(
    ("status", "code", "message", "end"),
    [("Completed", None, None, "completed"), ("Canceled", None, None, "cancelled"),
     ("Failed", "UserError", PREEMPTED, "preempted"),  # Azure ML's code says UserError; the message says preemption
     ("Failed", "SystemError", "AzureMLCompute job failed.\nUnusableNodeError: a node became unusable", "node failure"),
     ("Failed", "SystemError", "AzureMLCompute job failed.\nInternalServerError: retry", "infrastructure"),
     ("Failed", "SystemError", "something else", "infrastructure"),
     ("Failed", "UserError", SCRIPT_FAILED, "user error"), ("Failed", None, None, "user error"),
     ("Running", None, None, None), ("CancelRequested", None, None, None)],
)  # fmt: skip
def test_classify_from_azure_ml_error_payloads(status: str, code: str | None, message: str | None, end: str | None) -> None:
    assert classify(status, code, message) == end


def test_budgets_are_separate_and_time_is_counted() -> None:
    budgets = Budgets(infra_retries=2, user_retries=1, total_minutes=60)
    assert next_step([], budgets, 0) == ("retry", "first attempt")
    assert next_step([_a(1, "preempted"), _a(2, "user error")], budgets, 5)[0] == "retry", "each kind has its own budget"
    assert next_step([_a(1, "user error"), _a(2, "user error")], budgets, 5)[0] == "stop"
    assert next_step([_a(1, "preempted"), _a(2, "node failure"), _a(3, "infrastructure")], budgets, 5)[0] == "stop"
    assert next_step([_a(1, "preempted")], budgets, 61) == ("stop", "the total time budget of 60 minutes is spent")
    assert next_step([_a(1, "cancelled")], budgets, 0)[0] == "stop"
    assert next_step([_a(1, "preempted"), _a(2, "completed")], budgets, 0) == ("done", "completed in attempt 2")


def test_escalation_to_dedicated_after_n_preemptions() -> None:
    budgets = Budgets(escalate_after_preemptions=2)
    assert compute_for([_a(1, "preempted")], budgets, "lowpri", "dedicated") == "lowpri"
    assert compute_for([_a(1, "preempted"), _a(2, "preempted")], budgets, "lowpri", "dedicated") == "dedicated"
    assert compute_for([_a(1, "preempted"), _a(2, "preempted")], budgets, "lowpri", None) == "lowpri"


def test_a_job_stuck_in_the_queue_counts_toward_escalation() -> None:
    budgets = Budgets(escalate_after_preemptions=2)
    assert compute_for([_a(1, "queued too long"), _a(2, "preempted")], budgets, "lowpri", "dedicated") == "dedicated"
    assert next_step([_a(1, "queued too long")], Budgets(infra_retries=1), 0)[0] == "retry", "retried on the infrastructure budget"


def _job(status: str, reason: str | None = None) -> Job:
    return Job(name="L-001", status=status, error_message=reason)


def test_an_end_is_read_twice_before_it_is_believed() -> None:
    """A Failed seen once and gone on the next read (a flicker) does not end the watch; a failed read is not an end."""
    reads: Iterator[Job | Exception] = iter([_job("Running"), _job("Failed", "LowPriorityNodePreempted"), _job("Running"), TransientError("503"), _job("Completed"), _job("Completed")])
    seen: list[str] = []
    slept: list[float] = []
    errors: list[str] = []

    def read() -> Job:
        nxt = next(reads)
        if isinstance(nxt, Exception):
            raise nxt
        seen.append(nxt.status)
        return nxt

    ended = watch_until_end(read, slept.append, 7, lambda e: errors.append(str(e)))
    assert ended.status == "Completed" and seen == ["Running", "Failed", "Running", "Completed", "Completed"]
    assert errors == ["503"] and slept == [7, 7, 7], "waited between reads, never between an end and its confirmation"


def _ended(status: str, started: str, ended: str, message: str | None = None, tags: dict[str, str] | None = None) -> Job:
    return Job(name="L-002", status=status, compute="lowpri", error_message=message, tags={ATTEMPT_TAG: "2", RESUMED_TAG: "runs/x/step-20/", **(tags or {})},
               properties={"startTimeUtc": started, "endTimeUtc": ended})  # fmt: skip


def test_an_attempt_is_read_from_its_job_alone() -> None:
    """What a restarted flow knows of an attempt comes from the job: its number, what it resumed from, its end."""
    attempt = attempt_of(_ended("Failed", "2026-11-30T10:00:00Z", "2026-11-30T10:02:30Z", PREEMPTED))
    assert (attempt.number, attempt.resumed_from, attempt.end, attempt.seconds) == (2, "runs/x/step-20/", "preempted", 150.0)
    cancelled = attempt_of(_ended("Canceled", "2026-11-30T10:00:00Z", "2026-11-30T10:00:09Z", tags={ENDED_TAG: "queued too long"}))
    assert cancelled.end == "queued too long", "amlops' own cancellation of a queued job counts toward escalation, not as a person's"
    assert attempt_of(_ended("Canceled", "", "")).end == "cancelled" and attempt_of(_ended("Running", "2026-11-30T10:00:00Z", "")).seconds == 0.0


def test_time_lost_runs_from_the_attempts_last_complete_checkpoint_to_its_end() -> None:
    attempt = attempt_of(_ended("Failed", "2026-11-30T10:00:00Z", "2026-11-30T10:02:30Z", PREEMPTED))
    written = Checkpoint(path="runs/x/step-30/", step=30, complete=True, written_at="2026-11-30T10:02:00.500Z")
    assert lost_seconds(attempt, written) == 29.5, "sub-second: the marker's own time, not the blob's Last-Modified"
    older = Checkpoint(path="runs/x/step-20/", step=20, complete=True, written_at="2026-11-30T09:50:00Z")
    assert lost_seconds(attempt, older) == 150.0, "a checkpoint of an earlier attempt saves nothing of this one"
    assert lost_seconds(attempt, None) == 150.0
    done = attempt_of(_ended("Completed", "2026-11-30T10:00:00Z", "2026-11-30T10:02:30Z"))
    assert lost_seconds(done, None) == 0.0


def test_the_time_budget_runs_from_the_lineages_first_attempt() -> None:
    now = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
    attempts = [Attempt(number=2, job="L-002", compute="c", started="2026-11-30T10:30:00Z"), Attempt(number=1, job="L-001", compute="c", started="2026-11-30T10:00:00Z")]
    assert budget_began(attempts, now) == datetime(2026, 11, 30, 10, 0, tzinfo=UTC)
    assert budget_began([Attempt(number=1, job="L-001", compute="c")], now) == now, "nothing started yet: from now"


def test_a_job_queued_past_the_limit_is_given_up_once() -> None:
    watch = QueueWatch(every=30, limit_minutes=1.5)
    seen = [watch.seen(_job(s)) for s in ("Queued", "Queued", "Running", "Queued", "NotStarted", "Queued", "Queued")]
    assert seen == [False, False, False, False, False, True, False], "the count restarts when the job leaves the queue"
    assert QueueWatch(every=30, limit_minutes=None).seen(_job("Queued")) is False


def test_the_next_attempt_resumes_from_the_checkpoint_on_the_compute_escalation_picks() -> None:
    location = CheckpointLocation(datastore="checkpoints", path="runs/x")
    resume = Checkpoint(path="runs/x/step-30/", step=30, complete=True)
    budgets = Budgets(escalate_after_preemptions=1)
    nxt = next_submission("L", [_a(1, "preempted")], budgets, "python train.py", "--resume-from", "lowpri", "dedicated", location, resume, {"SEED": "7"})
    assert (nxt.name, nxt.number, nxt.compute) == ("L-002", 2, "dedicated")
    assert nxt.command == "python train.py --resume-from azureml://datastores/checkpoints/paths/runs/x/step-30/"
    assert nxt.tags == {LINEAGE_TAG: "L", ATTEMPT_TAG: "2", RESUMED_TAG: "runs/x/step-30/"}
    assert nxt.variables == {"SEED": "7", "AMLOPS_CHECKPOINT_DIR": "azureml://datastores/checkpoints/paths/runs/x/", "AMLOPS_RESUME_STEP": "30"}
    first = next_submission("L", [], Budgets(), "python train.py", "--resume-from", "lowpri", None, location, None)
    assert (first.name, first.command, first.variables["AMLOPS_RESUME_STEP"], first.tags[RESUMED_TAG]) == ("L-001", "python train.py", "0", "")
