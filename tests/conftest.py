"""Fixtures: one emulator per test session over HTTPS, reset before each test.

Under pytest-xdist (`make test`) a session is one worker: each worker starts its own emulator, Azurite and
Prefect server, on ports the servers choose themselves, the first time one of its tests asks for them.
Session fixtures never change os.environ; what a test needs in its environment (the emulator's and
Azurite's addresses) is set for that test only, by `_service_environment` below.
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from _pytest.nodeid import NodeId

from amlops.azure.clients import Clients, Target
from amlops.emulator import Emulator, scenario
from amlops.emulator import azurite as azurite_server
from amlops.emulator.control_client import EmulatorControl
from amlops.models import ResourceId
from deployments import local_server
from tests import cpu_meter, prefect_db
from tests.warm_cli import WarmCli

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
    """Microsoft's storage emulator, from the project's node_modules (make test installs it). A test that asks
    for it also finds it in its environment (AMLOPS_BLOB_URL/KEY), for that test only."""
    with azurite_server.Azurite() as url:
        yield url


@pytest.fixture(scope="session")
def prefect_migrated() -> Path:
    """A migrated Prefect database, the install's (deployments/local_server.py: made once, under a lock the xdist
    workers share); each server the suite starts on SQLite starts on a copy of it (tests/prefect_db.py)."""
    return local_server.migrated_database()


@pytest.fixture(scope="session")
def prefect_server(emulator: Emulator, prefect_migrated: Path) -> Iterator[str]:
    """Prefect's test server, one per session (per xdist worker), defined here only: a package that re-exported
    it got a server of its own, whose start re-pointed the process's Prefect (its settings and default server)
    under the tests of the package before. A test that asks for it finds the emulator in its environment
    (`_service_environment` below), for that test only."""
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

    from tasks import common

    common.clients.cache_clear()
    # A test harness's server, on a copy of the run's migrated database (tests/prefect_db.py).
    with prefect_db.harness(prefect_migrated) as api, temporary_settings({PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
        yield api


@pytest.fixture(scope="session")
def warm_amlops(emulator: Emulator, prefect_server: str) -> Iterator[WarmCli]:
    """The worker's warm `amlops` (tests/warm_cli.py): tests that start the real command fork their runs from it
    instead of paying an interpreter and its imports each time. Its environment is what every such run shares
    (the emulator, the session's server); what a test sets for its own runs (a state directory) goes with each run."""
    from tests import chaos

    shared = {k: v for k, v in chaos.cli_env(prefect_server).items() if not k.startswith("AMLOPS_")}
    cli = WarmCli({**shared, **emulator.env()})
    yield cli
    cli.close()


@pytest.fixture
def flows_env(env: Env, prefect_server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Env]:
    import prefect.context
    from prefect.settings import PREFECT_API_URL, temporary_settings

    monkeypatch.setenv("AMLOPS_STATE_DIR", str(tmp_path / "state"))
    # Flows wait in real time (their sleeps, Prefect's polls, other processes), so here the emulator's clock
    # follows real time; a test whose outcome hangs on the emulator's timing freezes it again.
    env.control.freeze(False)
    # Every flow of the test, in its thread or another, talks to the session's server, in context and process-wide.
    with temporary_settings({PREFECT_API_URL: prefect_server}), prefect.context._temporary_global_settings_context(prefect.context.get_settings_context()):
        yield env


@pytest.fixture
def training(flows_env: Env, azurite: str) -> Env:
    spec = demo_scenario()
    spec["workspaces"][0]["datastores"].append({"name": "checkpoints", "properties": {"datastoreType": "AzureBlob", "accountName": "devstoreaccount1", "containerName": f"c-{uuid.uuid4().hex[:10]}"}})
    spec["workspaces"][0]["computes"].append({"name": "gpu-dedicated", "properties": {"computeType": "AmlCompute", "properties": {"vmSize": "STANDARD_NC6S_V3", "vmPriority": "Dedicated"}}})
    flows_env.control.load(spec)
    flows_env.control.settings(storage_url=azurite, storage_key=AZURITE_KEY, job_queue_seconds=0.2)
    return flows_env


@pytest.fixture(autouse=True)
def _service_environment(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """The environment a test's services need, set with monkeypatch and so undone after the test: no test's
    outcome depends on which tests ran before it in the same worker."""
    names = request.fixturenames
    if "azurite" in names:
        monkeypatch.setenv("AMLOPS_BLOB_URL", request.getfixturevalue("azurite"))
        monkeypatch.setenv("AMLOPS_BLOB_KEY", AZURITE_KEY)
    if "prefect_server" in names:  # flows run in the test's process and reach Azure through the environment
        emulator: Emulator = request.getfixturevalue("emulator")
        for key, value in emulator.env().items():
            monkeypatch.setenv(key, value)


# Where xdist must keep tests on one worker (`--dist loadgroup`), by the fixtures they use: the team tier shares one
# PostgreSQL, Prefect server and pair of workers; the browser tests one UI server. Everything else spreads test
# by test (a worker starts its own emulator, Azurite and Prefect server when its first test needs them).
GROUPS = {"team_db": "team", "ui_server": "browser"}
# The unit tests of the pure modules (and the import-direction check): `make check` runs them in seconds. A new
# module of such tests joins with `pytestmark = pytest.mark.unit` or a line here.
UNIT_MODULES = {
    "tests/test_clouds.py", "tests/test_fleet_rules.py", "tests/test_forms.py", "tests/test_models.py", "tests/test_move_rules.py",
    "tests/test_preflight_rules.py", "tests/test_terminal.py", "tests/test_training_rules.py", "tests/test_layers.py",
    "tests/emulator/test_units.py", "tests/emulator/test_documented_facts.py", "tests/rehearse/test_units.py",
}  # fmt: skip
# Servers a unit test may not need: `make check` runs the unit tests without starting any.
SERVER_FIXTURES = {"emulator", "azurite", "prefect_migrated", "prefect_server", "team_db", "team", "deployed", "ui_server"}


def pytest_configure(config: pytest.Config) -> None:
    cpu_meter.register(config)  # CPU per test, with AMLOPS_TEST_CPU=DIR (tests/cpu_meter.py)


@pytest.hookimpl(tryfirst=True)  # before xdist reads the groups
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if item.nodeid.split("::")[0] in UNIT_MODULES:
            item.add_marker(pytest.mark.unit)
        servers = SERVER_FIXTURES & set(getattr(item, "fixturenames", ()))
        if item.get_closest_marker("unit") and servers:
            raise pytest.UsageError(f"{item.nodeid} is marked unit but starts servers: {sorted(servers)}")
        group = next((GROUPS[name] for name in getattr(item, "fixturenames", ()) if name in GROUPS), None)
        if group and not item.get_closest_marker("xdist_group"):
            item.add_marker(pytest.mark.xdist_group(group))
        _name_group(config, item)
    items.sort(key=_slowest_first)


def _name_group(config: pytest.Config, item: pytest.Item) -> None:
    """On an xdist worker under `--dist loadgroup`, the test's id ends in `@GROUP`, which is all the controller
    schedules by. pytest-xdist 3.8 writes that suffix to `item._nodeid`, which pytest 9 no longer reads (a node's
    id is `item._id`): without this every group would be scattered, each worker starting its own team stack."""
    marker = item.get_closest_marker("xdist_group")
    if not marker or not getattr(config.option, "loadgroup", False) or "@" in item.nodeid.rsplit("]", 1)[-1]:
        return
    name = marker.args[0] if marker.args else marker.kwargs.get("name", "default")
    item._id = NodeId.parse(f"{item.nodeid}@{name}")


def _slowest_first(item: pytest.Item) -> int:
    """Long tests start first, so the run does not end waiting for one that started last (a stable sort:
    within a rank, the order of collection)."""
    path = item.nodeid.split("::")[0]
    for rank, prefix in enumerate(SLOW_FIRST):
        if path.startswith(prefix):
            return rank
    return len(SLOW_FIRST)


# The longest, measured (serial baseline and xdist runs, in the note): whole commands, killed and resumed
# runs, real-time waits that are the point of their test.
SLOW_FIRST = (
    "tests/test_commands.py",  # make demo, make bench --quick
    "tests/flows/test_move_chaos.py",  # SIGKILLed moves, run again
    "tests/flows/test_training_options.py",  # the train command through its budgets
    "tests/rehearse/test_keep.py",  # a Prefect server of its own, a person's answer
    "tests/flows/test_move_suspend.py",
    "tests/team/test_manifest_blobs.py",  # the 60 s lease renewed, then run out
    "tests/flows/test_move_safety.py",
    "tests/flows/test_move_resume.py",
    "tests/gateway/test_retry.py",
    "tests/flows/test_suspend.py",
    "tests/test_ports.py",
    "tests/flows/test_fleet_killed.py",
    "tests/cli/test_exit_codes.py",
    "tests/flows/test_schedules.py",
    "tests/flows/test_train_with_retries.py",
    "tests/emulator/test_arm_throttling_documented.py",
)
