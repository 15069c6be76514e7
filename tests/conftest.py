"""Fixtures: one emulator per test session over HTTPS, reset before each test."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from amlops.azure.clients import Clients, Target
from amlops.emulator import Emulator, scenario
from amlops.emulator import azurite as azurite_server
from amlops.emulator.control_client import EmulatorControl
from amlops.models import ResourceId

DEMO = scenario.DEMO
SUB = "11111111-1111-1111-1111-111111111111"
TARGET_SUB = "22222222-2222-2222-2222-222222222222"
WS_ID = f"/subscriptions/{SUB}/resourceGroups/ml-prod/providers/Microsoft.MachineLearningServices/workspaces/ml-prod-ws"


@dataclass
class Env:
    """What a test gets: the emulator's control API and gateway clients aimed at it."""

    emulator: Emulator
    control: EmulatorControl
    clients: Clients
    sleeps: list[float] = field(default_factory=list)

    def load_demo(self, **changes: Any) -> dict[str, Any]:
        spec = demo_scenario()
        for key, value in changes.items():
            spec[key] = value
        self.control.load(spec)
        return spec

    def fresh_clients(self) -> Clients:
        return make_clients(self.emulator, self.control, self.sleeps)


def demo_scenario() -> dict[str, Any]:
    return copy.deepcopy(_DEMO)


_DEMO = scenario.read(DEMO)


def make_clients(emulator: Emulator, control: EmulatorControl, sleeps: list[float]) -> Clients:
    def sleep(seconds: float) -> None:
        # Waiting costs nothing: the emulator's clock moves instead of ours.
        sleeps.append(seconds)
        control.advance(seconds)

    return Clients(Target("emulator", emulator.base_url, str(emulator.ca_file)), sleep=sleep)


@pytest.fixture(scope="session")
def emulator() -> Iterator[Emulator]:
    with Emulator() as emu:
        yield emu


@pytest.fixture
def env(emulator: Emulator) -> Env:
    control = EmulatorControl(emulator.base_url, str(emulator.ca_file))
    control.reset()
    # The emulator's time moves only when a test (or its injected sleep) advances it: throttle buckets,
    # job timelines and long-running operations come out the same on a fast machine and a loaded one.
    control.freeze()
    sleeps: list[float] = []
    return Env(emulator, control, make_clients(emulator, control, sleeps), sleeps)


@pytest.fixture
def demo(env: Env) -> Env:
    env.load_demo()
    return env


@pytest.fixture
def ws() -> ResourceId:
    return ResourceId.parse(WS_ID)


AZURITE_KEY = azurite_server.KEY


@pytest.fixture(scope="session")
def azurite() -> Iterator[str]:
    """Microsoft's storage emulator, from the project's node_modules (make test installs it)."""
    import os

    server = azurite_server.Azurite()
    with server as url:
        os.environ.update(server.env())
        yield url
