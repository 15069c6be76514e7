"""Pure parts of the emulator: token buckets, routing, long-running operation progression."""

from __future__ import annotations

import time

import pytest

from amlops.emulator import lro, routes
from amlops.emulator.clock import VirtualClock
from amlops.emulator.errors import ArmError
from amlops.emulator.state import State
from amlops.emulator.throttle import Bucket, Throttler, kind_of


def test_bucket_allows_the_burst_then_refills_at_its_rate() -> None:
    bucket = Bucket(capacity=3, rate=2)
    assert [bucket.take(0.0)[0] for _ in range(4)] == [True, True, True, False]
    allowed, wait = bucket.take(0.0)
    assert not allowed and wait == pytest.approx(0.5)
    assert bucket.take(0.5)[0] is True


def test_throttler_keeps_subscriptions_and_kinds_apart() -> None:
    t = Throttler()
    t.configure(reads=(1, 1), writes=(1, 1))
    assert t.check("a", "reads", 0)[0] and not t.check("a", "reads", 0)[0]
    assert t.check("b", "reads", 0)[0], "another subscription has its own bucket"
    assert t.check("a", "writes", 0)[0], "writes have their own bucket"
    allowed, _, retry_after = t.check("a", "reads", 0)
    assert not allowed and retry_after == 1


@pytest.mark.parametrize(
    ("method", "path", "kind"),
    [("GET", "/x", "reads"), ("DELETE", "/x", "deletes"), ("PUT", "/x", "writes"), ("POST", "/w/listKeys", "reads"), ("POST", "/w/stop", "writes"), ("POST", "/w/datastores/d/listSecrets", "writes"),
     ("POST", "/subscriptions/s/resourceGroups/g/validateMoveResources", "writes")],  # fmt: skip
)
def test_request_kinds(method: str, path: str, kind: str) -> None:
    assert kind_of(method, path) == kind


def test_routes_match_case_insensitively_and_extract_names() -> None:
    path = "/subscriptions/s/resourcegroups/RG/providers/microsoft.machinelearningservices/workspaces/w/computes/c1/STOP"
    route, params = routes.resolve("POST", path)
    assert route.handler.__name__ == "stop_compute" and params["name"] == "c1" and params["rg"] == "RG"


def test_unknown_paths_and_methods_get_arm_errors() -> None:
    with pytest.raises(ArmError) as err:
        routes.resolve("PATCH", "/subscriptions/s/resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces/w/computes")
    assert err.value.status == 405
    with pytest.raises(ArmError) as err:
        routes.resolve("GET", "/nowhere")
    assert err.value.status == 404


def test_role_assignment_routes_take_any_scope() -> None:
    _, params = routes.resolve("GET", "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Authorization/roleAssignments/abc")
    assert params["scope"] == "subscriptions/s/resourceGroups/rg" and params["name"] == "abc"


def _op(state: State, kind: str) -> tuple[lro.Operation, list[int]]:
    done: list[int] = []
    return lro.start(state, kind, "s", lambda: done.append(1)), done


def test_lro_immediate_polls_and_seconds_modes() -> None:
    state = State()
    op, done = _op(state, "x")
    assert op.status == "Succeeded" and done == [1]

    state.settings.lro = {"default": {"mode": "polls", "count": 2}}
    op, done = _op(state, "x")
    assert lro.poll(state, op).status == "InProgress"
    assert lro.poll(state, op).status == "Succeeded" and done == [1]

    state.settings.lro = {"compute": {"mode": "seconds", "seconds": 5}}
    op, done = _op(state, "compute.stop")
    assert lro.retry_after_ms(state, op) > 4000
    lro.settle_due(state)
    assert op.status == "InProgress"
    state.clock.advance(5)
    lro.settle_due(state)
    assert op.status == "Succeeded" and done == [1]


def test_each_kind_takes_its_own_most_specific_duration() -> None:
    """compute.create.instance before compute.create before compute before default: a benchmark gives instances,
    clusters and attaches their own times, and a test that sets only "compute.create" still covers all three."""
    state = State()
    state.clock.freeze()
    state.settings.lro = {"default": {"mode": "seconds", "seconds": 1}, "compute.create": {"mode": "seconds", "seconds": 30}, "compute.create.instance": {"mode": "seconds", "seconds": 300}}
    waits = {kind: lro.start(state, kind, "s", lambda: None).ready_at - state.clock.now() for kind in ("compute.create.instance", "compute.create.cluster", "compute.stop")}
    assert waits == {"compute.create.instance": 300, "compute.create.cluster": 30, "compute.stop": 1}


def test_azure_durations_give_each_resource_its_place_in_a_recorded_range() -> None:
    state = State()
    state.clock.freeze()
    state.settings.lro = lro.azure_durations()
    low, high = lro.AZURE_SECONDS["compute.create.instance"]  # type: ignore[misc]  # a range
    waits = [lro.start(state, "compute.create.instance", "s", lambda: None, key=f"ci-{i}").ready_at - state.clock.now() for i in range(50)]
    again = lro.start(state, "compute.create.instance", "s", lambda: None, key="ci-7").ready_at - state.clock.now()
    assert low <= min(waits) < max(waits) <= high and again == waits[7]
    assert lro.start(state, "endpoint.create.update", "s", lambda: None).ready_at - state.clock.now() == lro.AZURE_SECONDS["endpoint.create.update"]
    assert lro.start(state, "job.cancel", "s", lambda: None).status == "Succeeded"  # not in Azure's table: at once


def test_a_sped_up_clock_runs_emulated_seconds_per_real_second_without_a_jump() -> None:
    clock = VirtualClock()
    clock.freeze()
    before = clock.now()
    clock.set_speed(60)
    assert clock.now() == before
    clock.thaw()
    time.sleep(0.05)
    gained = clock.now() - before
    assert 0.05 * 60 <= gained < 2 * 60  # a minute a second, not real time
    clock.set_speed(1)
    settled = clock.now()
    time.sleep(0.05)
    assert clock.now() - settled < 1


def test_an_injected_lro_failure_runs_the_rollback_not_the_effect() -> None:
    state = State()
    rolled_back: list[int] = []
    done: list[int] = []
    op = lro.start(state, "x", "s", lambda: done.append(1), fail_with=ArmError(500, "InternalServerError", "boom"), on_fail=lambda: rolled_back.append(1))
    assert op.status == "Failed" and done == [] and rolled_back == [1]
