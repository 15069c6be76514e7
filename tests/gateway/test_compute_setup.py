"""A new compute instance passes through SettingUp (its creation script, its schedules) before it runs, Azure
refuses to start or stop it meanwhile, and re-creating a compute waits through it. The emulator's clock is frozen:
set-up lasts as long as the test's (virtual) sleeps say."""

from __future__ import annotations

import pytest

import tasks.move
from amlops.azure import computes
from amlops.errors import Conflict
from amlops.models import ResourceId
from amlops.move.plan import ComputeItem
from tests.conftest import Env

SETUP_SECONDS = 300


@pytest.fixture
def slow_setup(demo: Env) -> Env:
    demo.control.settings(lro={"default": {"mode": "immediate"}, "compute.setup": {"mode": "seconds", "seconds": SETUP_SECONDS}})
    return demo


def _alice(env: Env, ws: ResourceId) -> object:
    return computes.get_compute(env.clients, ws, "alice-ci")


def test_a_new_instance_with_a_setup_script_is_setting_up_and_refuses_power_actions_until_it_runs(slow_setup: Env, ws: ResourceId) -> None:
    spec = computes.get_compute(slow_setup.clients, ws, "alice-ci")
    computes.delete_compute(slow_setup.clients, ws, spec.name, "Delete")
    created = computes.create_compute(slow_setup.clients, ws, spec, "westeurope")
    assert (created.provisioning_state, created.state) == ("Succeeded", "SettingUp")
    with pytest.raises(Conflict, match="SettingUp"):
        computes.stop_compute(slow_setup.clients, ws, "alice-ci")
    slow_setup.control.advance(SETUP_SECONDS)
    assert computes.get_compute(slow_setup.clients, ws, "alice-ci").state == "Running"
    computes.stop_compute(slow_setup.clients, ws, "alice-ci")
    assert computes.get_compute(slow_setup.clients, ws, "alice-ci").state == "Stopped"


def test_an_instance_without_script_or_schedule_runs_as_soon_as_it_is_built(slow_setup: Env, ws: ResourceId) -> None:
    bob = computes.get_compute(slow_setup.clients, ws, "bob-ci")
    computes.delete_compute(slow_setup.clients, ws, bob.name, "Delete")
    assert computes.create_compute(slow_setup.clients, ws, bob, "westeurope").state == "Running"


def test_recreate_compute_waits_through_setting_up_before_stopping_an_instance_that_was_stopped(slow_setup: Env, ws: ResourceId, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tasks.move, "clients", lambda: slow_setup.clients)  # the task's clients: the test's, whose sleeps move the emulator's clock
    was = computes.get_compute(slow_setup.clients, ws, "alice-ci")
    assert was.state == "Running", "the plan's power state, not the compute's, says how it comes back"
    computes.delete_compute(slow_setup.clients, ws, was.name, "Delete")
    mark = slow_setup.control.mark()
    item = ComputeItem(name=was.name, action="re-create", power_state="Stopped", spec=was)
    assert tasks.move.recreate_compute.fn(ws, item, "westeurope") == "alice-ci"
    assert computes.get_compute(slow_setup.clients, ws, "alice-ci").state == "Stopped", "back as it was: off"
    assert [r for r in slow_setup.control.requests(mark) if r["status"] == 409] == [], "never asked Azure to stop it while it was setting up"
    assert sum(slow_setup.sleeps) >= SETUP_SECONDS, "waited for the set-up to finish"
