"""What one list of a workspace's computes says of each compute the move deletes or builds (amlops.move.following)."""

from __future__ import annotations

from typing import Any

import pytest

from amlops.models import ComputeSpec
from amlops.move.following import next_step

pytestmark = pytest.mark.unit


def compute(provisioning: str = "Succeeded", state: str | None = "Running", **extra: Any) -> ComputeSpec:
    return ComputeSpec(name="ci-1", compute_type="ComputeInstance", provisioning_state=provisioning, state=state, **extra)


def test_a_deleted_compute_is_done_once_the_list_no_longer_shows_it() -> None:
    assert next_step("gone", compute("Deleting")) == "wait"
    assert next_step("gone", None) == "done"
    assert next_step("gone", compute("Succeeded")) == "failed"  # Azure put it back: the delete failed


def test_a_new_instance_is_done_only_once_out_of_setting_up() -> None:
    assert next_step("built", compute("Creating", "Creating")) == "wait"
    assert next_step("built", compute("Succeeded", "SettingUp")) == "wait"  # its creation script still runs
    assert next_step("built", compute("Succeeded", "Running")) == "done"
    assert next_step("built", compute("Failed", None)) == "failed"
    assert next_step("built", None) == "failed"


def test_an_instance_that_was_stopped_is_stopped_as_soon_as_it_is_up() -> None:
    assert next_step("stopped", compute("Succeeded", "SettingUp")) == "wait"  # Azure refuses a stop while it sets up
    assert next_step("stopped", compute("Succeeded", "Running")) == "stop"
    assert next_step("stopped", compute("Succeeded", "Stopping"), stop_sent=True) == "wait"
    assert next_step("stopped", compute("Succeeded", "Stopped"), stop_sent=True) == "done"
    failed = compute("Succeeded", "Running", last_operation={"operationName": "Stop", "operationStatus": "Failed"})
    assert next_step("stopped", failed, stop_sent=True) == "failed"


def test_clusters_and_attached_compute_have_no_power_state_to_restore() -> None:
    cluster = ComputeSpec(name="gpu", compute_type="AmlCompute", provisioning_state="Succeeded", state=None)
    assert next_step("built", cluster) == "done"
