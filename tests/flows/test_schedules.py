"""Schedules: time zones across daylight saving, holidays, stale runs, and serving/deploying them."""

from __future__ import annotations

import signal
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.objects import State
from prefect.flow_engine import run_flow
from prefect.states import Scheduled

from amlops.errors import InvalidInput
from amlops.fleet import Selector
from deployments.fleet import fleet_deployments
from flows.compute_power import CronRule, overtaken_by, stop_computes
from tests.conftest import Env
from tests.flows.test_compute_power import SUB, WS_B, _fleet
from tests.warm_cli import WarmCli

ROOT = Path(__file__).parents[2]
BERLIN = ZoneInfo("Europe/Berlin")


def _fires(deployment: Any, start: datetime, n: int) -> list[datetime]:
    schedule = deployment.schedules[0].schedule
    return CronRule(action="any", cron=schedule.cron, timezone=schedule.timezone).fires(start, n=n)


@pytest.mark.parametrize(
    ("start", "utc_hours"),
    [(datetime(2026, 3, 26, tzinfo=UTC), [7, 7, 6, 6]), (datetime(2026, 10, 22, tzinfo=UTC), [6, 6, 7, 7])],
    ids=["spring-forward", "fall-back"],
)
def test_a_0800_start_stays_0800_local_across_daylight_saving(start: datetime, utc_hours: list[int]) -> None:
    starting, stopping = fleet_deployments("berlin", Selector(subscriptions=[SUB]))
    fires = _fires(starting, start, 4)  # Thu, Fri, then Mon, Tue after the change on Sunday
    assert [f.astimezone(BERLIN).hour for f in fires] == [8, 8, 8, 8]
    assert [f.astimezone(UTC).hour for f in fires] == utc_hours
    assert [f.astimezone(BERLIN).weekday() for f in fires] == [3, 4, 0, 1], "weekdays only"
    assert {f.astimezone(BERLIN).hour for f in _fires(stopping, start, 4)} == {19}


def test_bad_schedules_are_refused_before_deploying() -> None:
    with pytest.raises(InvalidInput, match="invalid"):
        fleet_deployments("x", Selector(subscriptions=[SUB]), start_cron="61 8 * * *")
    with pytest.raises(InvalidInput, match="invalid"):
        fleet_deployments("x", Selector(subscriptions=[SUB]), timezone="Europe/Atlantis")


def test_overtaken_by_a_newer_firing_of_the_group() -> None:
    group = [CronRule(action="start", cron="0 8 * * *", timezone="Europe/Berlin"), CronRule(action="stop", cron="0 19 * * *", timezone="Europe/Berlin")]
    stop_due = datetime(2026, 11, 20, 19, 0, tzinfo=BERLIN)
    assert overtaken_by(stop_due, datetime(2026, 11, 20, 23, 0, tzinfo=BERLIN), group) is None, "late, but nothing newer fired"
    newer = overtaken_by(stop_due, datetime(2026, 11, 21, 8, 30, tzinfo=BERLIN), group)
    assert newer is not None and newer.action == "start", "the next morning's start fired: the stop is stale"


def _run_scheduled(scheduled_at: datetime, **parameters: Any) -> Any:
    """Run stop-computes as a run that was scheduled at ``scheduled_at`` (as a late worker would pick it up)."""
    with get_client(sync_client=True) as client:
        flow_run = client.create_flow_run(stop_computes, parameters=parameters, state=Scheduled(scheduled_time=scheduled_at))
    state = run_flow(stop_computes, flow_run=flow_run, parameters=parameters, return_type="state")
    assert isinstance(state, State), "a sync flow run asked for its state returns it"
    return state.result()


def test_a_stale_run_does_nothing_and_says_why(flows_env: Env) -> None:
    _fleet(flows_env)
    mark = flows_env.control.mark()
    group = [CronRule(action="start", cron="*/5 * * * *", timezone="UTC")]
    report = _run_scheduled(datetime.now(UTC) - timedelta(hours=2), selector=Selector(workspaces=[str(WS_B)]), schedule_group=group)
    assert report.skipped_run.startswith("stale:") and "start schedule '*/5 * * * *'" in report.skipped_run
    assert report.outcomes == [] and flows_env.control.writes(mark) == []


def test_an_on_time_run_of_the_same_group_acts(flows_env: Env) -> None:
    _fleet(flows_env)
    group = [CronRule(action="start", cron="0 0 1 1 *", timezone="UTC")]
    report = _run_scheduled(datetime.now(UTC) - timedelta(seconds=30), selector=Selector(workspaces=[str(WS_B)]), schedule_group=group)
    assert report.skipped_run == "" and report.counts == {"stopped": 1, "already": 1}


def test_holidays_are_skipped(flows_env: Env) -> None:
    _fleet(flows_env)
    mark = flows_env.control.mark()
    today = datetime.now(ZoneInfo("Pacific/Auckland")).date()
    report = stop_computes(selector=Selector(subscriptions=[SUB]), holidays=[today, date(2026, 12, 25)], timezone="Pacific/Auckland")
    assert "holiday" in report.skipped_run and flows_env.control.writes(mark) == []


def _deployments(api: str) -> dict[str, dict[str, Any]]:
    found = httpx.post(f"{api}/deployments/filter", json={"limit": 50, "offset": 0, "sort": "NAME_ASC"}, timeout=10).json()
    return {d["name"] + "@" + d["flow_id"]: d for d in found}


# `amlops serve` and `amlops deploy` run as the real command's `main` in processes forked from the worker's warm
# amlops (tests/warm_cli.py), aimed at the session's server; what each run adds is the fleet's subscriptions.
FLEET = {"AMLOPS_FLEET_SUBSCRIPTIONS": SUB}


def test_amlops_serve_registers_every_deployment_with_its_schedule(prefect_server: str, warm_amlops: WarmCli, tmp_path: Path) -> None:
    log = tmp_path / "serve.log"
    proc = warm_amlops.start(["serve"], FLEET, log, stdout=True)
    try:
        deadline = time.monotonic() + 60
        while not any(d["name"] == "weekdays-berlin-stop" for d in _deployments(prefect_server).values()):
            assert proc.poll() is None and time.monotonic() < deadline, log.read_text()[-2000:]
            time.sleep(0.5)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    stop = next(d for d in _deployments(prefect_server).values() if d["name"] == "weekdays-berlin-stop")
    assert stop["schedules"][0]["schedule"]["cron"] == "0 19 * * 1-5" and stop["schedules"][0]["schedule"]["timezone"] == "Europe/Berlin"
    assert stop["schedules"][0]["active"], "schedules stay on after serve stops"
    assert stop["parameters"]["subscriptions_variable"] == "amlops_fleet_subscriptions" and stop["parameters"]["holidays"] == ["DE-BE"]
    assert httpx.get(f"{prefect_server}/variables/name/amlops_fleet_subscriptions", timeout=10).json()["value"] == [SUB], "what its runs read"


def test_amlops_deploy_registers_on_a_work_pool(prefect_server: str, warm_amlops: WarmCli, tmp_path: Path) -> None:
    created = httpx.post(f"{prefect_server}/work_pools/", json={"name": "amlops-pool", "type": "process"}, timeout=30)
    assert created.status_code in (201, 409), created.text  # 409: another test of this worker made it already
    log = tmp_path / "deploy.log"
    code = warm_amlops.run(["deploy", "--work-pool", "amlops-pool", "--checkout", "."], FLEET, log, timeout=180)
    assert code == 0, log.read_text()[-3000:]
    pooled = {d["name"]: d for d in _deployments(prefect_server).values() if d.get("work_pool_name") == "amlops-pool"}
    assert {"weekdays-berlin-start", "weekdays-berlin-stop", "on-demand"} <= set(pooled)
    assert pooled["weekdays-berlin-start"]["job_variables"]["working_dir"] == str(ROOT)
    assert pooled["weekdays-berlin-start"]["pull_steps"] == [{"prefect.deployments.steps.set_working_directory": {"directory": str(ROOT)}}]


def test_amlops_deploy_without_a_repository_to_clone_stops_with_one_line(prefect_server: str, warm_amlops: WarmCli, tmp_path: Path) -> None:
    """Workers clone the code from a variable nobody set here, and no --git-repository (or --checkout) says where
    from: `amlops deploy` names the variable and the option, exits 2, and has registered nothing."""
    assert httpx.get(f"{prefect_server}/variables/name/amlops_git_repository", timeout=10).status_code == 404, "a server where nobody ran `amlops source`"
    before = _deployments(prefect_server)
    log = tmp_path / "deploy.log"
    code = warm_amlops.run(["deploy", "--work-pool", "amlops-pool"], FLEET, log, timeout=180)
    out = log.read_text()
    assert code == 2, out[-3000:]
    said = [line for line in out.splitlines() if line.strip()]
    assert len(said) == 1 and "amlops_git_repository, which is unset: pass --git-repository URL" in said[0], said
    assert _deployments(prefect_server) == before, "nothing registered"
