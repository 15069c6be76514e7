"""Following Azure's long-running operations as Azure runs them: no Retry-After, either header style.

Recorded Azure (tests/recorded/recordings/) sends no Retry-After on Azure ML's operations; a compute start names
Azure-AsyncOperation only, an online endpoint's DELETE both it and Location. The client asks on its own schedule,
through the injected sleep, which moves the emulator's frozen clock: no test here sleeps for real.
"""

from __future__ import annotations

import pytest
from azure.core.rest import HttpRequest

from amlops.azure import computes, datastores, endpoints, operations, rest
from amlops.errors import NotFound
from amlops.models import ResourceId
from tests.conftest import Env


def test_the_schedule_asks_at_once_then_backs_off_to_the_operations_interval() -> None:
    assert [operations.schedule(n, 30.0) for n in range(8)] == [0, 1, 2, 4, 8, 16, 30, 30]
    assert [operations.schedule(n, 5.0) for n in range(6)] == [0, 1, 2, 4, 5, 5]
    assert operations.interval_for("/subscriptions/s/.../workspaces/w/computes/c/start") == 30.0
    assert operations.interval_for("/subscriptions/s/.../workspaces/w/onlineEndpoints/e") == 5.0
    assert operations.interval_for("/subscriptions/s/resourceGroups/g") == operations.DEFAULT_INTERVAL


def _polls(env: Env, mark: int) -> list[dict[str, object]]:
    return [r for r in env.control.requests(mark) if "OperationsStatus" in str(r["path"]) or "operation" in str(r["path"]).lower()]


def test_a_compute_start_without_retry_after_is_polled_on_the_compute_schedule(demo: Env, ws: ResourceId) -> None:
    # A compute instance start took about 90 s in recorded Azure; the emulator's clock moves only when the client waits.
    demo.control.settings(lro={"default": {"mode": "immediate"}, "compute.start": {"mode": "seconds", "seconds": 90}})
    mark = demo.control.mark()
    computes.start_compute(demo.clients, ws, "bob-ci")
    assert computes.get_compute(demo.clients, ws, "bob-ci").state == "Running"
    assert demo.sleeps == [1, 2, 4, 8, 16, 30, 30], "asked at once, then backed off to compute's 30 s"
    assert len(_polls(demo, mark)) == 8, "eight checks for a 90 s operation: never polled hot"


def test_an_endpoint_delete_without_retry_after_is_polled_on_the_endpoint_schedule(demo: Env, ws: ResourceId) -> None:
    name = endpoints.list_online_endpoints(demo.clients, ws)[0].name
    demo.control.settings(lro={"default": {"mode": "immediate"}, "endpoint.delete": {"mode": "seconds", "seconds": 12}})
    endpoints.delete_online_endpoint(demo.clients, ws, name)
    assert demo.sleeps == [1, 2, 4, 5], "endpoints are asked about every 5 s at most, as azure-ai-ml's poller does"
    with pytest.raises(NotFound):
        rest.get_child(demo.clients, ws, "onlineEndpoints", name)


def test_start_names_azure_asyncoperation_and_restart_location_and_both_are_followed(demo: Env, ws: ResourceId) -> None:
    demo.control.settings(lro={"default": {"mode": "immediate"}, "compute.start": {"mode": "seconds", "seconds": 5}, "compute.restart": {"mode": "seconds", "seconds": 5}})
    start = computes.begin_power(demo.clients, ws, "bob-ci", "start")
    assert start is not None and start.status_resource, "a start answers Azure-AsyncOperation (recorded)"
    operations.wait(demo.clients, ws.subscription, start, None, "start")
    restart = computes.begin_power(demo.clients, ws, "bob-ci", "restart")
    assert restart is not None and not restart.status_resource, "a restart answers Location (REST example)"
    operations.wait(demo.clients, ws.subscription, restart, None, "restart")
    assert computes.get_compute(demo.clients, ws, "bob-ci").state == "Running"


@pytest.mark.parametrize("header", ["Azure-AsyncOperation", "Location"])
def test_an_endpoint_delete_can_be_followed_by_either_header(demo: Env, ws: ResourceId, header: str) -> None:
    name = endpoints.list_online_endpoints(demo.clients, ws)[0].name
    demo.control.settings(lro={"default": {"mode": "immediate"}, "endpoint.delete": {"mode": "seconds", "seconds": 8}})
    path = rest.child_path(ws, "onlineEndpoints", name)
    answer = demo.clients.arm(ws.subscription).send_request(HttpRequest("DELETE", rest.full_url(demo.clients, path, rest.ML_API)))
    assert answer.status_code == 202 and {"Azure-AsyncOperation", "Location"} <= set(answer.headers), "recorded: both headers"
    op = operations.Operation(answer.headers[header], header == "Azure-AsyncOperation", 0.0, operations.interval_for(path))
    operations.wait(demo.clients, ws.subscription, op, None, "delete")
    assert sum(demo.sleeps) >= 8
    with pytest.raises(NotFound):
        rest.get_child(demo.clients, ws, "onlineEndpoints", name)


def test_list_secrets_is_paced_as_a_write(demo: Env, ws: ResourceId) -> None:
    # ARM counts listSecrets against the writes (recorded): a writes bucket of 12 leaves the pacer two after its
    # reserve of 10, so fifteen reads of a secret wait for the bucket to refill instead of meeting 429s.
    demo.control.settings(throttle={"writes": [12, 1]})
    for _ in range(15):
        assert datastores.read_secrets(demo.clients, ws, "curated")["key"]
    assert not [r for r in demo.control.requests() if r.get("fault") == "throttled"], "never throttled"
    assert sum(demo.sleeps) > 0, "the pacer waited (emulator time) for the writes budget"
