"""Every flow carries on through Azure's hiccups: 10% and 20% of the requests on every route answered 429 or 503,
or their connection dropped; the fleet also SIGKILLed mid-run. Each trial ends consistent, judged from the emulator,
and its run (the first after the kill) ends 0. A few seeded trials here; `python -m bench.flow_chaos` runs 20 a flow
and rate with fresh seeds (AMLOPS_CHAOS_SEED picks other seeds here)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

from amlops.models import ResourceId
from tests import chaos, flow_chaos
from tests.conftest import TARGET_SUB, WS_ID, Env, demo_scenario
from tests.rehearse import rich

SEED = int(os.environ.get("AMLOPS_CHAOS_SEED", "3100"))


@pytest.mark.parametrize(("action", "rate"), [("stop", 0.1), ("start", 0.2)])
def test_a_killed_fleet_run_under_faults_finishes_in_the_next_run(flows_env: Env, prefect_server: str, action: str, rate: float) -> None:
    run = flow_chaos.fleet_trial(flows_env.control, flows_env.clients, chaos.cli_env(prefect_server), action, rate, SEED)
    assert run.consistent and run.finished_in_one_run, run.line()


@pytest.mark.parametrize("rate", [0.1, 0.2])
def test_training_under_faults_submits_each_attempt_once_and_completes(training: Env, rate: float) -> None:
    run = flow_chaos.training_trial(training.control, training.clients, ResourceId.parse(WS_ID), rate, SEED)
    assert run.consistent and run.finished_in_one_run, run.line()


def test_a_snapshot_under_faults_is_the_undisturbed_snapshot(env: Env, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    env.control.load(rich.scenario())
    for name, value in env.emulator.env().items():
        monkeypatch.setenv(name, value)
    target = (rich.TARGET_SUB, "ml-rich-moved")
    baseline, _ = flow_chaos.snapshot_baseline(rich.WS, target, tmp_path)
    runs = [flow_chaos.snapshot_trial(env.control, rich.WS, target, rate, SEED, tmp_path, baseline) for rate in (0.1, 0.2)]
    assert all(r.consistent and r.finished_in_one_run for r in runs), [r.line() for r in runs]


def test_a_rehearsal_under_faults_completes(flows_env: Env, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]) -> None:
    """`amlops rehearse` with its private emulator answering 20% of the requests on every route 429 or 503 or
    dropping them: the rehearsed move completes (exit 0), as it would undisturbed."""
    from amlops import rehearsal
    from amlops.emulator import Emulator
    from app.cli import main

    class Faulty(Emulator):
        def start(self) -> Emulator:
            started = super().start()
            for rule in chaos.faults(0.2):
                self.faults.add(**rule)
            return started

    monkeypatch.setattr(rehearsal, "Emulator", Faulty)
    scenario = tmp_path / "demo.yaml"
    scenario.write_text(yaml.safe_dump(demo_scenario()))
    assert main(["rehearse", "--scenario", str(scenario), "--target-subscription", TARGET_SUB, "--target-resource-group", "ml-moved"]) == 0
    assert "exit code 0 (the move would complete)" in capfd.readouterr().out
