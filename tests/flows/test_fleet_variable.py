"""The default fleet reads its subscriptions from a Prefect variable when a run starts: unset, it does nothing and says so."""

from __future__ import annotations

import uuid

from prefect.variables import Variable

from amlops.fleet import Selector
from flows.compute_power import stop_computes
from tests.conftest import Env
from tests.flows.test_compute_power import SUB, WS_B, _fleet, _results, _states


def test_an_unset_variable_selects_nothing_and_the_run_says_how_to_set_it(flows_env: Env) -> None:
    _fleet(flows_env)
    mark = flows_env.control.mark()
    name = f"amlops_fleet_{uuid.uuid4().hex[:8]}"
    report = stop_computes(selector=Selector(), subscriptions_variable=name)
    assert report.skipped_run.startswith(f"no subscriptions selected: the Prefect variable {name} is unset or empty")
    assert f"prefect variable set {name}" in report.skipped_run and report.outcomes == []
    assert flows_env.control.writes(mark) == []


def test_the_variable_read_at_run_time_selects_the_fleet(flows_env: Env) -> None:
    _fleet(flows_env)
    name = f"amlops_fleet_{uuid.uuid4().hex[:8]}"
    Variable.set(name, [SUB])
    report = stop_computes(selector=Selector(names=["b-*"]), subscriptions_variable=name)
    assert _results(report)["b-carol"] == ("stopped", "") and _states(flows_env, WS_B)["b-carol"] == "Stopped"
