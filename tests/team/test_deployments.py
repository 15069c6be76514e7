"""One source of truth for deployments: prefect.yaml is generated from deployments/fleet.py, and
`prefect deploy --all` registers every one of them on the team's server."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from deployments.fleet import all_deployments
from deployments.prefect_yaml import PREFECT_YAML, render
from tests.conftest import SUB
from tests.team.conftest import POOL, ROOT, Team


def test_prefect_yaml_is_what_the_python_deployments_generate() -> None:
    check = subprocess.run([sys.executable, "-m", "deployments.prefect_yaml", "--check"], cwd=ROOT, capture_output=True, text=True)
    assert check.returncode == 0, check.stderr
    names = {(d["name"], d["entrypoint"]) for d in yaml.safe_load(PREFECT_YAML.read_text())["deployments"]}
    assert len(names) == len(all_deployments()) == 5


def test_a_drifted_prefect_yaml_is_caught(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import deployments.prefect_yaml as generator

    drifted = tmp_path / "prefect.yaml"
    drifted.write_text(render().replace("0 19 * * 1-5", "0 20 * * 1-5"))
    monkeypatch.setattr(generator, "PREFECT_YAML", drifted)
    assert generator.main(["--check"]) == 1


def test_prefect_deploy_all_registers_every_deployment(deployed: Team) -> None:
    found = deployed.call("POST", "/deployments/filter", {"limit": 50, "offset": 0})
    pooled = {(d["name"], d["entrypoint"]): d for d in found if d["work_pool_name"] == POOL}
    expected = {(d["name"], d["entrypoint"]) for d in yaml.safe_load(PREFECT_YAML.read_text())["deployments"]}
    assert expected <= set(pooled), f"missing: {expected - set(pooled)}"
    stop = pooled[("weekdays-berlin-stop", "flows/compute_power.py:stop_computes")]
    assert stop["parameters"]["selector"]["subscriptions"] == [SUB], "the fleet variable is a list, not one string"
    assert stop["schedules"][0]["schedule"]["cron"] == "0 19 * * 1-5" and stop["schedules"][0]["schedule"]["timezone"] == "Europe/Berlin"
    assert stop["pull_steps"] == [{"prefect.deployments.steps.set_working_directory": {"directory": str(ROOT)}}]
