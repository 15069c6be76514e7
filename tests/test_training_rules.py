"""The pure rules of train-with-retries: how an end is classified, when to stop, where to run."""

from __future__ import annotations

import pytest

from amlops.errors import TransientError
from amlops.models import Job
from amlops.training import Attempt, Budgets, attempt_name, classify, compute_for, next_step, watch_until_end


def _a(n: int, end: str) -> Attempt:
    return Attempt(number=n, job=attempt_name("L", n), compute="lowpri", end=end)  # type: ignore[arg-type]


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
    reads = iter([_job("Running"), _job("Failed", "LowPriorityNodePreempted"), _job("Running"), TransientError("503"), _job("Completed"), _job("Completed")])
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
