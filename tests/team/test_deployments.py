"""One source of truth for deployments: prefect.yaml is generated from deployments/fleet.py, and
`prefect deploy --all` registers every one of them on the team's server."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from deployments.fleet import all_deployments
from deployments.prefect_yaml import PREFECT_YAML, render
from deployments.stack import Stack
from tests import prefect_db
from tests.conftest import SUB
from tests.team.conftest import POOL, ROOT, Team

# Every worker clones the repository at the revision the variables name, when the run starts (placeholders kept).
CLONE_STEPS = [
    {
        "prefect.deployments.steps.git_clone": {
            "id": "clone-amlops",
            "repository": "{{ prefect.variables.amlops_git_repository }}",
            "commit_sha": "{{ prefect.variables.amlops_git_revision }}",
            "access_token": "{{ prefect.blocks.secret.amlops-git-token }}",
        }
    }
]


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
    assert stop["parameters"]["subscriptions_variable"] == "amlops_fleet_subscriptions" and stop["parameters"]["holidays"] == ["DE-BE"]
    assert deployed.call("GET", "/variables/name/amlops_fleet_subscriptions")["value"] == [SUB], "the fleet variable is a list, not one string"
    assert stop["schedules"][0]["schedule"]["cron"] == "0 19 * * 1-5" and stop["schedules"][0]["schedule"]["timezone"] == "Europe/Berlin"
    assert all(d["pull_steps"] == CLONE_STEPS for d in pooled.values()), [d["pull_steps"] for d in pooled.values()]
    assert deployed.call("GET", "/variables/name/amlops_git_repository")["value"] == deployed.source.url
    assert deployed.call("GET", "/variables/name/amlops_git_revision")["value"] == deployed.source.revision


def test_the_workers_python_cannot_import_the_checkout(team: Team) -> None:
    """The proof that runs use the cloned code rests on this: a worker's Python (its PYTHONPATH, its directory) finds no amlops."""
    worker = team.stack.worker_dir
    assert worker is not None and ROOT not in worker.parents and worker not in ROOT.parents
    probe = subprocess.run([sys.executable, "-c", "import flows.move_workspace"], cwd=worker, env={**team.env, **team.stack.worker_env}, capture_output=True, text=True)
    assert probe.returncode != 0 and "No module named 'flows'" in probe.stderr, probe.stderr[-2000:]


def test_a_fresh_server_without_variables_registers_every_deployment(tmp_path: Path, prefect_migrated: Path) -> None:
    """`prefect --no-prompt deploy --all` before anyone set a variable: all five registered (the fleet's runs read
    their subscriptions when they start; no 422 for a missing list). Before the work pool exists (the README's
    first command) it stops saying so, having registered nothing. The server's database is the run's migrated
    empty one (tests/prefect_db.py): all a fresh server holds before it serves."""
    stack = Stack(tmp_path, f"sqlite+aiosqlite:///{prefect_db.copy_into(prefect_migrated, tmp_path, 'fresh.db')}", "fresh:pw")

    def deploy_all() -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "prefect", "--no-prompt", "deploy", "--all"], cwd=ROOT, env=stack.env, capture_output=True, text=True, timeout=300)

    def registered() -> list[dict[str, Any]]:
        with httpx.Client(base_url=stack.api, auth=("fresh", "pw"), timeout=30) as client:
            return list(client.post("/deployments/filter", json={"limit": 50, "offset": 0}).json())

    try:
        stack.start_server()
        early = deploy_all()
        assert early.returncode != 0 and "work pool 'amlops-pool' which does not" in early.stdout.replace("\n", " ") and registered() == []
        subprocess.run([sys.executable, "-m", "prefect", "work-pool", "create", POOL, "--type", "process"], cwd=ROOT, env=stack.env, check=True, capture_output=True)
        done = deploy_all()
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        found = registered()
        expected = {(d["name"], d["entrypoint"]) for d in yaml.safe_load(PREFECT_YAML.read_text())["deployments"]}
        assert {(d["name"], d["entrypoint"]) for d in found} == expected and len(expected) == 5
    finally:
        stack.stop()
