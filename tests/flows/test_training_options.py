"""What the README promises of train-with-retries beyond the basic retry: the resume argument, the backoff,
the total time budget, the report artifact, and the train command's budget options."""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from prefect.settings import PREFECT_API_URL

from amlops.training import Budgets
from tests.conftest import WS_ID, Env
from tests.flows.conftest import SCRIPT
from tests.flows.test_train_with_retries import _run
from tests.warm_cli import WarmCli

RESUMED = "azureml://datastores/checkpoints/paths/runs/forecast/step-00000020/"


def _jobs(env: Env, lineage: str) -> list[dict[str, Any]]:
    return sorted((r for r in env.control.resources() if f"/jobs/{lineage}-" in r["id"]), key=lambda r: r["name"])


def _artifacts(flow_run_id: Any, key: str) -> list[dict[str, Any]]:
    api = str(PREFECT_API_URL.value())
    body = {"artifacts": {"flow_run_id": {"any_": [str(flow_run_id)]}, "key": {"any_": [key]}}}
    return httpx.post(f"{api}/artifacts/filter", json=body, timeout=30).json()


def test_the_resume_argument_is_appended_with_the_checkpoint_uri(training: Env) -> None:
    lineage = f"fc-{uuid.uuid4().hex[:6]}"
    training.control.schedule_job_end(f"{lineage}-001", "preempt", after=1.6, partial=True)
    state, report = _run(lineage=lineage, resume_arg="--ckpt")
    assert state.is_completed(), report
    first, second = _jobs(training, lineage)
    assert first["properties"]["command"] == "python train.py --epochs 10", "the first attempt starts from scratch"
    assert second["properties"]["command"] == f"python train.py --epochs 10 --ckpt {RESUMED}"
    assert second["properties"]["environmentVariables"]["AMLOPS_RESUME_STEP"] == "20"


def test_attempts_are_separated_by_the_backoff(training: Env) -> None:
    lineage = f"fc-{uuid.uuid4().hex[:6]}"
    training.control.schedule_job_end(f"{lineage}-001", "preempt", after=0.5)
    state, report = _run(lineage=lineage, budgets=Budgets(backoff_seconds=1.5))
    assert state.is_completed(), report
    log = training.control.requests()
    last_read = max(r["time"] for r in log if r["method"] == "GET" and r["path"].endswith(f"/jobs/{lineage}-001"))
    resubmitted = min(r["time"] for r in log if r["method"] == "PUT" and r["path"].endswith(f"/jobs/{lineage}-002"))
    assert resubmitted - last_read >= 1.5, "the second attempt waited out the backoff after the first one's end was confirmed"


def test_the_total_time_budget_stops_retrying(training: Env) -> None:
    lineage = f"fc-{uuid.uuid4().hex[:6]}"
    training.control.schedule_job_end(f"{lineage}-*", "preempt", after=1.0, times=5)
    # 0.01 minutes (0.6 s) is spent once the first attempt has trained for 1 s, however fast the machine.
    state, error = _run(lineage=lineage, budgets=Budgets(backoff_seconds=0, total_minutes=0.01))
    assert state.is_failed() and "the total time budget of 0.01 minutes is spent" in str(error)
    assert len(_jobs(training, lineage)) == 1, "no attempt after the budget was spent"


def test_the_report_artifact_lists_every_attempt(training: Env) -> None:
    lineage = f"fc-{uuid.uuid4().hex[:6]}"
    training.control.schedule_job_end(f"{lineage}-001", "preempt", after=1.6, partial=True)
    state, report = _run(lineage=lineage)
    assert state.is_completed(), report
    [artifact] = _artifacts(state.state_details.flow_run_id, "training-attempts")
    rows = artifact["data"] if isinstance(artifact["data"], list) else __import__("json").loads(artifact["data"])
    assert [(r["number"], r["job"], r["end"], r["resumed_from"]) for r in rows] == [
        (1, f"{lineage}-001", "preempted", None),
        (2, f"{lineage}-002", "completed", "runs/forecast/step-00000020/"),
    ]
    assert abs(rows[0]["lost_seconds"] - 0.6) < 0.1 and rows[1]["lost_seconds"] == 0
    assert all(r["seconds"] > 0 and r["compute"] == "gpu-cluster" for r in rows)
    assert artifact["description"] == f"{lineage}: completed in attempt 2; training time lost 0.6 s"


def _train_cli(cli: WarmCli, tmp_path: Path, lineage: str, *options: str) -> tuple[int, str]:
    """`amlops train ...` in a process of its own (forked from the worker's warm one), with the test's Azure and storage."""
    args = ["train", "--workspace", WS_ID, "--command", "python train.py", "--environment", "azureml:forecast-env:1",
            "--compute", "gpu-cluster", "--checkpoints", "checkpoints:runs/forecast", "--lineage", lineage, "--watch", "0.1", *options]
    args += [f"--env={k}={v}" for k, v in SCRIPT.items()]  # fmt: skip
    log = tmp_path / f"{lineage}.log"
    code = cli.run(args, {k: v for k, v in os.environ.items() if k.startswith("AMLOPS_")}, log)
    return code, log.read_text()


def test_train_command_user_retries_escalation_and_resume_arg(training: Env, warm_amlops: WarmCli, tmp_path: Path) -> None:
    lineage = f"fc-{uuid.uuid4().hex[:6]}"
    training.control.schedule_job_end(f"{lineage}-001", "preempt", after=1.6, partial=True)
    training.control.schedule_job_end(f"{lineage}-002", "fail", after=0.5)
    code, out = _train_cli(warm_amlops, tmp_path, lineage, "--backoff", "0", "--user-retries", "1", "--escalate-after", "1", "--dedicated-compute", "gpu-dedicated", "--resume-arg=--from")
    assert code == 0 and "completed in attempt 3" in out, out
    submitted = _jobs(training, lineage)
    assert [j["properties"]["computeId"].rsplit("/", 1)[-1] for j in submitted] == ["gpu-cluster", "gpu-dedicated", "gpu-dedicated"]
    assert submitted[2]["properties"]["command"].startswith("python train.py --from azureml://datastores/checkpoints/paths/runs/forecast/step-")


@pytest.mark.parametrize(
    ("end", "options", "says", "attempts"),
    [
        ("node_failure", ["--infra-retries", "1"], "2 infrastructure ends (node failure last); the budget is 1 retries", 2),
        ("preempt", ["--total-minutes", "0.01"], "total time budget of 0.01 minutes is spent", 1),
    ],
    ids=["infra-retries", "total-minutes"],
)
def test_train_command_budgets_exit_3_with_the_reason(training: Env, warm_amlops: WarmCli, tmp_path: Path, end: str, options: list[str], says: str, attempts: int) -> None:
    lineage = f"fc-{uuid.uuid4().hex[:6]}"
    training.control.schedule_job_end(f"{lineage}-*", end, after=1.0, times=5)
    code, out = _train_cli(warm_amlops, tmp_path, lineage, "--backoff", "0", *options)
    assert code == 3 and says in out, out
    assert len(_jobs(training, lineage)) == attempts
