"""Workers clone a private repository with the token in the Secret block `amlops-git-token` (which `amlops source`
fills from AMLOPS_GIT_TOKEN): the repository refuses whoever lacks it, and nothing reads the token back."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

from amlops.azure import computes
from tests.conftest import Env
from tests.team.conftest import FINAL, Team
from tests.team.git_server import GitServer
from tests.team.test_workers import FLEET_SUB, FLEET_WS, _instance


def test_workers_clone_a_private_repository_with_the_token_block(env: Env, deployed: Team) -> None:
    token = f"ghp-{uuid.uuid4().hex}"
    bare = Path(deployed.source.url.removeprefix("file://"))
    git = GitServer(bare.parent, token)
    try:
        deployed.amlops(
            "source", "--git-repository", f"{git.url}/{bare.name}", "--git-revision", deployed.source.revision,
            env_extra={"AMLOPS_GIT_TOKEN": token},
        )  # fmt: skip
        env.control.load({
            "subscriptions": [{"id": FLEET_SUB, "region": "eastus"}],
            "resource_groups": [{"id": f"/subscriptions/{FLEET_SUB}/resourceGroups/fleet", "location": "eastus"}],
            "workspaces": [{"id": str(FLEET_WS), "location": "eastus", "computes": [_instance("w-ann")]}],
        })  # fmt: skip
        deployment = deployed.deployment("stop-computes", "weekdays-berlin-stop")
        # The worker trusts the git host's certificate, as a worker trusts a real host's (here the test's own CA).
        trust = {"env": {"GIT_SSL_CAINFO": str(git.ca)}}
        run = str(deployed.call("POST", f"/deployments/{deployment['id']}/create_flow_run", {"parameters": {"selector": {"subscriptions": [FLEET_SUB]}}, "job_variables": trust})["id"])
        assert deployed.wait(run, FINAL) == "Completed", deployed.worker_logs()[-4000:]
    finally:
        deployed.amlops(
            "source", "--git-repository", deployed.source.url, "--git-revision", deployed.source.revision,
            env_extra={"AMLOPS_GIT_TOKEN": ""},
        )  # fmt: skip
        git.stop()
    assert any(p.endswith("/git-upload-pack") for p in git.served), f"the code came from the private repository: {git.served}"
    assert git.refused, "git asked without the token first and was refused"
    assert {c.name: c.state for c in computes.list_computes(env.clients, FLEET_WS)} == {"w-ann": "Stopped"}, "judged from the emulator"
    logs = deployed.call("POST", "/logs/filter", {"logs": {"flow_run_id": {"any_": [run]}}, "limit": 200, "offset": 0})
    blocks = deployed.call("POST", "/block_documents/filter", {})
    assert logs and token not in json.dumps(logs) and token not in json.dumps(blocks) and token not in deployed.worker_logs(), "the token is not readable back"
