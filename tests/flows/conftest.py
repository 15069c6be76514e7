"""Flow fixtures: a real Prefect server for the session, amlops pointed at the emulator, a state dir per test."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prefect.settings import PREFECT_API_URL, PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings
from prefect.testing.utilities import prefect_test_harness

from amlops.emulator import Emulator
from tasks import common
from tests.conftest import TARGET_SUB, WS_ID, Env


@pytest.fixture(scope="session")
def prefect_server(emulator: Emulator) -> Iterator[str]:
    os.environ.update(emulator.env())
    common.clients.cache_clear()
    with prefect_test_harness(server_startup_timeout=60), temporary_settings({PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
        yield str(PREFECT_API_URL.value())


@pytest.fixture
def flows_env(env: Env, prefect_server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Env:
    monkeypatch.setenv("AMLOPS_STATE_DIR", str(tmp_path / "state"))
    return env


def move_args(**changes: Any) -> dict[str, Any]:
    """The demo move, approvals answered by policy flags."""
    args: dict[str, Any] = {
        "source": WS_ID,
        "target_subscription": TARGET_SUB,
        "target_resource_group": "ml-moved",
        "approve_plan_as": "alice",
        "confirm_workspace": "ml-prod-ws",
        "approve_private_endpoints_as": "alice",
        "approval_poll_seconds": 1,
    }
    args.update(changes)
    return args
