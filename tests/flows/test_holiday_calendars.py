"""Named holiday calendars reach the runs: on Corpus Christi the Bavarian schedule does nothing, the Berlin one acts.

The runs were scheduled for 19:00 on Corpus Christi (4 June 2026) in Europe/Berlin and run now, as a late
worker picks a run up: the calendar is judged on the run's scheduled day (no waiting for the day), the
effect on the emulator (stops sent, or none). The Berlin run leaves out its schedule group, whose later
firings would otherwise (rightly) make it stale."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from amlops.errors import InvalidInput
from amlops.fleet import Selector
from deployments.fleet import DEFAULT_HOLIDAYS, all_deployments, fleet_deployments
from flows.compute_power import stop_computes
from tests.conftest import Env
from tests.flows.test_compute_power import WS_B, _fleet, _results, _states
from tests.flows.test_schedules import _run_scheduled

CORPUS_CHRISTI_EVENING = datetime(2026, 6, 4, 19, 0, tzinfo=ZoneInfo("Europe/Berlin"))


def _stop_parameters(name: str, calendars: list[Any]) -> dict[str, Any]:
    stop = next(d for d in fleet_deployments(name, Selector(workspaces=[str(WS_B)]), holidays=calendars) if d.name == f"{name}-stop")
    return stop.parameters


def test_corpus_christi_skips_the_bavarian_schedule_and_not_the_berlin_one(flows_env: Env) -> None:
    _fleet(flows_env)
    bavaria = _stop_parameters("munich", ["DE-BY", "2026-12-24"])
    assert bavaria["holidays"] == ["DE-BY", "2026-12-24"], "the calendar's name is what the deployment carries"
    mark = flows_env.control.mark()
    skipped = _run_scheduled(CORPUS_CHRISTI_EVENING, **bavaria)
    assert skipped.skipped_run == "a holiday in the calendar: 2026-06-04 is Corpus Christi (DE-BY)" and skipped.outcomes == []
    assert flows_env.control.writes(mark) == [] and _states(flows_env, WS_B)["b-carol"] == "Running"

    acted = _run_scheduled(CORPUS_CHRISTI_EVENING, **{**_stop_parameters("berlin", ["DE-BE"]), "schedule_group": []})
    assert acted.skipped_run == "" and _results(acted)["b-carol"] == ("stopped", "")
    assert _states(flows_env, WS_B)["b-carol"] == "Stopped", "judged from the emulator"


def test_the_default_deployments_carry_berlins_calendar() -> None:
    start, stop = all_deployments()[:2]
    assert DEFAULT_HOLIDAYS == ["DE-BE"] and start.parameters["holidays"] == stop.parameters["holidays"] == ["DE-BE"]


def test_an_unknown_calendar_is_refused_before_any_request(flows_env: Env) -> None:
    """A misspelt calendar is refused where it is written (building the deployments) and by a run that is given
    one anyway, before it sends Azure anything: judged from the emulator's request log."""
    _fleet(flows_env)
    with pytest.raises(InvalidInput, match="Unknown holiday calendar 'Bavaria'.*such as DE-BY"):
        fleet_deployments("munich", Selector(workspaces=[str(WS_B)]), holidays=["Bavaria", "2026-12-24"])
    mark = flows_env.control.mark()
    with pytest.raises(InvalidInput, match="Unknown holiday calendar 'DE-XX'"):
        stop_computes(selector=Selector(workspaces=[str(WS_B)]), holidays=["2026-12-24", "DE-XX"])
    assert flows_env.control.requests(mark) == [] and _states(flows_env, WS_B)["b-carol"] == "Running"
