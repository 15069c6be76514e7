"""The fleet never stops a busy instance, by Azure's own signal (issue 10): JobRunning / SettingUp /
UserSettingUp mean busy whatever the job list says, and busy and keep-alive are read again right before a stop."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from amlops.azure import computes, jobs, rest
from amlops.fleet import KEEP_ALIVE_TAG, Selector, Survey, decide
from amlops.models import ComputeSpec
from flows.compute_power import stop_computes
from tasks import compute_power as t
from tests.conftest import Env
from tests.flows.test_compute_power import RG, SUB, WS_A, _ci


def _load(env: Env, *instances: dict) -> None:
    env.control.load({
        "subscriptions": [{"id": SUB, "region": "eastus"}],
        "resource_groups": [{"id": RG, "location": "eastus"}],
        "workspaces": [{"id": str(WS_A), "location": "eastus", "computes": list(instances)}],
    })


@pytest.mark.parametrize("state", ["JobRunning", "SettingUp", "UserSettingUp"])
def test_an_instance_azure_calls_busy_is_never_stopped(state: str) -> None:
    spec = ComputeSpec(name="ci", compute_type="ComputeInstance", state=state)
    assert decide(spec, "stop", [], datetime.now(UTC)) == ("skipped", f"busy: the instance is {state}")


def test_a_job_running_on_an_instance_shows_as_job_running_and_the_fleet_skips_it(flows_env: Env) -> None:
    _load(flows_env, _ci("a-train"), _ci("a-idle"))
    jobs.submit_command_job(flows_env.clients, WS_A, "train-1", "python train.py", "azureml:env:1", "a-train")
    flows_env.control.advance(2)  # queued -> running
    assert computes.get_compute(flows_env.clients, WS_A, "a-train").state == "JobRunning"
    report = stop_computes(selector=Selector(workspaces=[str(WS_A)]))
    results = {o.compute: (o.result, o.reason) for o in report.outcomes}
    assert results["a-train"][0] == "skipped" and results["a-idle"][0] == "stopped"
    assert computes.get_compute(flows_env.clients, WS_A, "a-train").state == "JobRunning", "the job was not killed"


def test_a_job_started_after_the_survey_is_seen_by_the_read_just_before_the_stop(flows_env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    _load(flows_env, _ci("a-late"), _ci("a-free"))

    def start_job() -> None:  # after the survey
        jobs.submit_command_job(flows_env.clients, WS_A, "late-1", "python train.py", "azureml:env:1", "a-late")

    outcomes, stopped = _stop_after_survey(flows_env, monkeypatch, start_job)
    assert outcomes["a-late"].result == "skipped" and "late-1" in outcomes["a-late"].reason and "read again just before the stop" in outcomes["a-late"].reason
    assert outcomes["a-free"].result == "stopped" and stopped == ["a-free"], "only the free instance got a stop request"


def _stop_after_survey(env: Env, monkeypatch: pytest.MonkeyPatch, change: Callable[[], None]) -> tuple[dict[str, Any], list[str]]:
    """The fleet's task surveys the workspace, the world changes, the task stops what its survey chose: what did it
    do, and whom did it stop? The change runs right after the task's own (real) survey of the workspace."""
    survey = t._survey

    def survey_then_change(workspace: Any) -> Survey:
        found = survey(workspace)
        assert {c.name: c.state for c in found.computes} == {"a-late": "Running", "a-free": "Running"} and found.busy == {}
        change()
        return found

    monkeypatch.setattr(t, "_survey", survey_then_change)
    mark = env.control.mark()
    run = t.survey_and_power_subscription.fn([WS_A], "stop", Selector(workspaces=[str(WS_A)]), None, wait_seconds=60)
    outcomes = {o.compute: o for o in run.outcomes}
    return outcomes, [r["path"].rsplit("/", 2)[-2] for r in env.control.writes(mark) if r["path"].endswith("/stop")]


def test_a_keep_alive_tag_set_after_the_survey_is_read_just_before_the_stop(flows_env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    _load(flows_env, _ci("a-late"), _ci("a-free"))
    until = (datetime.now(UTC) + timedelta(hours=2)).isoformat()

    def tag() -> None:  # someone tags the instance through ARM, as the README tells them to
        rest.send(flows_env.clients, SUB, "PATCH", f"{WS_A}/computes/a-late", rest.ML_API, {"tags": {KEEP_ALIVE_TAG: until}})

    outcomes, stopped = _stop_after_survey(flows_env, monkeypatch, tag)
    assert outcomes["a-late"].result == "skipped" and "keep-alive" in outcomes["a-late"].reason and "read again just before the stop" in outcomes["a-late"].reason
    assert outcomes["a-free"].result == "stopped" and stopped == ["a-free"]


def test_an_instance_azure_calls_busy_after_the_survey_is_skipped_by_its_state_alone(flows_env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    """Azure's job list lags behind the instance (or the shared list is a few seconds old): the instance's own
    state, JobRunning, read right before the stop, is what keeps its job alive."""
    _load(flows_env, _ci("a-late"), _ci("a-free"))
    flows_env.control.freeze()

    def start_job() -> None:
        jobs.submit_command_job(flows_env.clients, WS_A, "late-1", "python train.py", "azureml:env:1", "a-late")
        flows_env.control.advance(2)  # queued -> running
        assert computes.get_compute(flows_env.clients, WS_A, "a-late").state == "JobRunning"
        monkeypatch.setattr(t.jobs, "active_jobs", lambda *_: [])  # the job list does not show it yet

    outcomes, stopped = _stop_after_survey(flows_env, monkeypatch, start_job)
    assert outcomes["a-late"].result == "skipped" and "JobRunning" in outcomes["a-late"].reason and "read again just before the stop" in outcomes["a-late"].reason
    assert outcomes["a-free"].result == "stopped" and stopped == ["a-free"]
    assert jobs.get_job(flows_env.clients, WS_A, "late-1").status == "Running", "the job was not killed"
