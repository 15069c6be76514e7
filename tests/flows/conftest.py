"""Flow fixtures: a real Prefect server for the session, amlops pointed at the emulator, a state dir per test."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import prefect.context
import pytest
from prefect.settings import PREFECT_API_URL, PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings
from prefect.testing.utilities import prefect_test_harness

from amlops.emulator import Emulator
from amlops.move import MoveApprovals, MoveRequest
from tasks import common
from tests import chaos
from tests.conftest import AZURITE_KEY, TARGET_SUB, WS_ID, Env, demo_scenario
from tests.warm_cli import WarmCli


@pytest.fixture(scope="session")
def prefect_server(emulator: Emulator) -> Iterator[str]:
    """Prefect's test server, one per session (per xdist worker). A test that asks for it finds the emulator
    in its environment (tests/conftest.py `_service_environment`), for that test only."""
    common.clients.cache_clear()
    # A generous start-up: six workers start their servers at once on two cores, beside whatever else runs there.
    with prefect_test_harness(server_startup_timeout=240), temporary_settings({PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
        yield str(PREFECT_API_URL.value())


@pytest.fixture(scope="session")
def warm_amlops(emulator: Emulator, prefect_server: str) -> Iterator[WarmCli]:
    """The worker's warm `amlops` (tests/warm_cli.py): tests that start the real command fork their runs from it
    instead of paying an interpreter and its imports each time. Its environment is what every such run shares
    (the emulator, the session's server); what a test sets for its own runs (a state directory) goes with each run."""
    shared = {k: v for k, v in chaos.cli_env(prefect_server).items() if not k.startswith("AMLOPS_")}
    cli = WarmCli({**shared, **emulator.env()})
    yield cli
    cli.close()


@pytest.fixture
def flows_env(env: Env, prefect_server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Env]:
    monkeypatch.setenv("AMLOPS_STATE_DIR", str(tmp_path / "state"))
    # Flows wait in real time (their sleeps, Prefect's polls, other processes), so here the emulator's clock
    # follows real time; a test whose outcome hangs on the emulator's timing freezes it again.
    env.control.freeze(False)
    # Every flow of the test, in its thread or another, talks to the session's server: pinned here as the harness
    # pins it (context and process-wide), because a run seen on another worker had a Prefect of its own by then.
    with temporary_settings({PREFECT_API_URL: prefect_server}), prefect.context._temporary_global_settings_context(prefect.context.get_settings_context()):
        yield env


def move_args(**changes: Any) -> dict[str, Any]:
    """The demo move, approvals answered by policy flags; ``changes`` name fields of either parameter (MoveRequest,
    MoveApprovals) flat, as an operator would."""
    args: dict[str, Any] = {
        "source": WS_ID,
        "target_subscription": TARGET_SUB,
        "target_resource_group": "ml-moved",
        "approve_plan_as": "alice",
        "confirm_workspace": "ml-prod-ws",
        "approve_private_endpoints_as": "alice",
        "poll_seconds": 1,
    }
    args.update(changes)
    approvals = {k: args.pop(k) for k in list(args) if k in MoveApprovals.model_fields}
    return {"request": MoveRequest(**args), "approvals": MoveApprovals(**approvals)}


# 20 steps a second, a checkpoint every second (20 steps), 100 steps in all: 5 s of training.
SCRIPT = {"AMLOPS_STEPS_PER_SECOND": "20", "AMLOPS_CHECKPOINT_EVERY": "1", "AMLOPS_TOTAL_STEPS": "100"}


@pytest.fixture
def training(flows_env: Env, azurite: str) -> Env:
    spec = demo_scenario()
    spec["workspaces"][0]["datastores"].append({"name": "checkpoints", "properties": {"datastoreType": "AzureBlob", "accountName": "devstoreaccount1", "containerName": f"c-{uuid.uuid4().hex[:10]}"}})
    spec["workspaces"][0]["computes"].append({"name": "gpu-dedicated", "properties": {"computeType": "AmlCompute", "properties": {"vmSize": "STANDARD_NC6S_V3", "vmPriority": "Dedicated"}}})
    flows_env.control.load(spec)
    flows_env.control.settings(storage_url=azurite, storage_key=AZURITE_KEY, job_queue_seconds=0.2)
    return flows_env
