"""train-with-retries against the emulator (jobs writing checkpoints to Azurite) and a real Prefect server."""

from __future__ import annotations

import os
import signal
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from amlops.azure import jobs
from amlops.models import ResourceId
from amlops.training import Budgets, CheckpointLocation
from flows.train_with_retries import train_with_retries
from tests.conftest import WS_ID, Env
from tests.flows.conftest import SCRIPT
from tests.warm_cli import WarmCli

WS = ResourceId.parse(WS_ID)


def _args(**changes: Any) -> dict[str, Any]:
    args: dict[str, Any] = {
        "workspace": WS_ID,
        "command": "python train.py --epochs 10",
        "environment": "azureml:forecast-env:1",
        "compute": "gpu-cluster",
        "checkpoint": CheckpointLocation(datastore="checkpoints", path="runs/forecast"),
        "lineage": f"fc-{uuid.uuid4().hex[:6]}",
        "budgets": Budgets(backoff_seconds=0),
        "watch_seconds": 0.1,
        "environment_variables": SCRIPT,
    }
    args.update(changes)
    return args


def _run(**changes: Any) -> tuple[Any, Any]:
    state = train_with_retries(**_args(**changes), return_state=True)
    return state, state.result(raise_on_failure=False)


def _lineage_jobs(env: Env, lineage: str) -> list[Any]:
    return sorted((j for j in jobs.list_jobs(env.clients, WS, view="All") if j.tags.get("amlops.lineage") == lineage), key=lambda j: j.name)


def test_preempted_twice_then_completes_resuming_from_the_right_checkpoints(training: Env) -> None:
    lineage = f"fc-{uuid.uuid4().hex[:6]}"
    training.control.schedule_job_end(f"{lineage}-00[12]", "preempt", after=1.6, partial=True, times=2)
    state, report = _run(lineage=lineage)
    assert state.is_completed(), report
    assert [a.end for a in report.attempts] == ["preempted", "preempted", "completed"]
    assert [a.resumed_from for a in report.attempts] == [None, "runs/forecast/step-00000020/", "runs/forecast/step-00000040/"], "partial checkpoints are skipped"
    submitted = _lineage_jobs(training, lineage)
    assert [j.name for j in submitted] == [f"{lineage}-001", f"{lineage}-002", f"{lineage}-003"]
    # preempted 1.6 s into training, last complete checkpoint at 1.0 s: 0.6 s of training lost each time
    assert [a.lost_seconds for a in report.attempts] == [pytest.approx(0.6, abs=0.1), pytest.approx(0.6, abs=0.1), 0.0]


def test_user_error_is_not_retried_by_default(training: Env) -> None:
    lineage = f"fc-{uuid.uuid4().hex[:6]}"
    training.control.schedule_job_end(f"{lineage}-*", "fail", after=0.5)
    state, error = _run(lineage=lineage)
    assert state.is_failed() and "the script failed 1 time(s)" in str(error)
    assert len(_lineage_jobs(training, lineage)) == 1


def test_user_error_retried_within_its_own_budget(training: Env) -> None:
    lineage = f"fc-{uuid.uuid4().hex[:6]}"
    training.control.schedule_job_end(f"{lineage}-001", "fail", after=0.5)
    state, report = _run(lineage=lineage, budgets=Budgets(backoff_seconds=0, user_retries=1))
    assert state.is_completed() and [a.end for a in report.attempts] == ["user error", "completed"]


def test_cancelled_by_a_person_is_never_retried(training: Env) -> None:
    """The emulator's clock stands still, so the attempt stays Running until the person cancels it, on any machine."""
    import threading

    lineage = f"fc-{uuid.uuid4().hex[:6]}"
    training.control.freeze()
    outcome: list[Any] = []
    runner = threading.Thread(target=lambda: outcome.append(_run(lineage=lineage)), daemon=True)
    runner.start()
    deadline = time.monotonic() + 300
    while not _lineage_jobs(training, lineage):
        assert runner.is_alive() and time.monotonic() < deadline, f"never submitted: {outcome}"
        time.sleep(0.05)
    training.control.advance(1)  # past the queue
    assert jobs.get_job(training.clients, WS, f"{lineage}-001").status == "Running"
    jobs.cancel_job(training.clients, WS, f"{lineage}-001")
    runner.join(300)
    [(state, error)] = outcome
    assert state.is_failed() and "cancelled by a person; not retried" in str(error)
    assert len(_lineage_jobs(training, lineage)) == 1


def test_infrastructure_budget_exhausted_ends_with_the_reason(training: Env) -> None:
    lineage = f"fc-{uuid.uuid4().hex[:6]}"
    training.control.schedule_job_end(f"{lineage}-*", "node_failure", after=0.5, times=10)
    state, error = _run(lineage=lineage, budgets=Budgets(backoff_seconds=0, infra_retries=1))
    assert state.is_failed() and "2 infrastructure ends (node failure last); the budget is 1 retries" in str(error)
    assert len(_lineage_jobs(training, lineage)) == 2


def test_escalates_to_dedicated_after_preemptions(training: Env) -> None:
    lineage = f"fc-{uuid.uuid4().hex[:6]}"
    training.control.schedule_job_end(f"{lineage}-001", "preempt", after=1.2)
    state, report = _run(lineage=lineage, budgets=Budgets(backoff_seconds=0, escalate_after_preemptions=1), dedicated_compute="gpu-dedicated")
    assert state.is_completed() and [a.compute for a in report.attempts] == ["gpu-cluster", "gpu-dedicated"]


@pytest.mark.parametrize(
    ("changes", "says"),
    [
        ({"compute": "no-such-compute"}, "Compute 'no-such-compute' does not exist"),
        ({"environment": "azureml:ghost-env:7"}, "Environment 'azureml:ghost-env:7' is not registered"),
        ({"checkpoint": CheckpointLocation(datastore="nowhere", path="x")}, "outside any datastore"),
    ],
    ids=["unknown-compute", "missing-environment", "path-outside-datastores"],
)
def test_bad_input_is_refused_before_submitting(training: Env, changes: dict[str, Any], says: str) -> None:
    mark = training.control.mark()
    state, error = _run(**changes)
    assert state.is_failed() and says in str(error)
    assert training.control.writes(mark) == []


def test_a_flow_killed_after_submitting_follows_its_attempt_on_restart(training: Env, warm_amlops: WarmCli, tmp_path: Path) -> None:
    lineage = f"fc-{uuid.uuid4().hex[:6]}"
    args = ["train", "--workspace", WS_ID, "--command", "python train.py", "--environment", "azureml:forecast-env:1",
            "--compute", "gpu-cluster", "--checkpoints", "checkpoints:runs/forecast", "--lineage", lineage, "--watch", "0.1", "--backoff", "0"]
    args += [f"--env={k}={v}" for k, v in SCRIPT.items()]  # fmt: skip
    # The real command, forked from the worker's warm amlops (tests/warm_cli.py) with this test's AMLOPS_* settings.
    log = tmp_path / "train.log"
    proc = warm_amlops.start(args, {k: v for k, v in os.environ.items() if k.startswith("AMLOPS_")}, log, stdout=True)
    try:
        deadline = time.monotonic() + 60
        while not _lineage_jobs(training, lineage):
            assert proc.poll() is None and time.monotonic() < deadline, log.read_text()[-2000:]
            time.sleep(0.05)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
    mark = training.control.mark()
    state, report = _run(lineage=lineage)
    assert state.is_completed(), report
    assert [j.name for j in _lineage_jobs(training, lineage)] == [f"{lineage}-001"], "followed, not submitted twice"
    assert [w for w in training.control.writes(mark) if "/jobs/" in w["path"]] == [], "the restarted flow sent no job PUT, not even an identical one"


def test_inputs_reach_every_attempt(training: Env) -> None:
    lineage = f"fc-{uuid.uuid4().hex[:6]}"
    training.control.schedule_job_end(f"{lineage}-001", "preempt", after=1.2)
    state, report = _run(lineage=lineage, inputs={"sales": "azureml:sales:1", "epochs": "10"})
    assert state.is_completed() and [a.end for a in report.attempts] == ["preempted", "completed"]
    submitted = [r for r in training.control.resources() if f"/jobs/{lineage}-" in r["id"]]
    assert len(submitted) == 2
    for job in submitted:
        inputs = job["properties"]["inputs"]
        assert inputs["sales"]["jobInputType"] == "uri_folder" and inputs["sales"]["uri"].endswith("/data/sales/versions/1"), "resolved to the data asset"
        assert inputs["epochs"]["value"] == "10"


def test_a_job_stuck_in_the_low_priority_queue_escalates_to_dedicated(training: Env) -> None:
    training.control.settings(job_queue_seconds_by_compute={"gpu-cluster": 100_000})  # no low-priority node to be had
    lineage = f"fc-{uuid.uuid4().hex[:6]}"
    budgets = Budgets(backoff_seconds=0, escalate_after_preemptions=1, queued_minutes_limit=0.005)
    state, report = _run(lineage=lineage, budgets=budgets, dedicated_compute="gpu-dedicated")
    assert state.is_completed(), report
    assert [(a.end, a.compute) for a in report.attempts] == [("queued too long", "gpu-cluster"), ("completed", "gpu-dedicated")]
    first = _lineage_jobs(training, lineage)[0]
    assert first.status == "Canceled" and first.tags["amlops.ended"] == "queued too long", "a restarted flow reads why from the job"
