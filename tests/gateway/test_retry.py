"""Throttling and transient faults: each call retried by what it does (read, idempotent write, action), judged
from the emulator's request log; Retry-After waited out; an action never resent blindly."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from azure.core.rest import HttpRequest

from amlops.azure import computes, datastores, jobs, network, policy, profiling, resources, retry, workspaces
from amlops.errors import Conflict, NotFound, OperationInterrupted, Throttled, TransientError, Unconfirmed
from amlops.models import ResourceId
from tests.conftest import SUB, Env

READ, WRITE, ACTION = retry.Kind.READ, retry.Kind.WRITE, retry.Kind.ACTION


@pytest.mark.parametrize(
    ("kind", "status", "expected"),
    [
        (READ, 503, True), (READ, 500, True), (READ, 408, True), (READ, 429, True), (READ, 404, False),
        (WRITE, 500, True), (WRITE, 504, True), (WRITE, 409, False),
        (ACTION, 429, True), (ACTION, 500, False), (ACTION, 503, False), (ACTION, 408, False),
    ],
)  # fmt: skip
def test_retry_decision_follows_what_the_call_does(kind: retry.Kind, status: int, expected: bool) -> None:
    assert retry.retry_response(kind, status) is expected


def test_a_request_is_judged_by_its_declared_kind_a_get_always_a_read() -> None:
    assert retry.kind_of("POST", READ) is READ  # run history queries, getByIds, checkPolicyRestrictions
    assert retry.kind_of("GET", ACTION) is READ  # an action's status polls
    assert retry.kind_of("POST", None) is ACTION and retry.kind_of("PATCH", None) is ACTION  # undeclared: the safe side
    assert retry.kind_of("PUT", None) is WRITE and retry.kind_of("DELETE", None) is WRITE


def test_connection_errors_resend_only_what_is_safe() -> None:
    assert retry.retry_connection_error(ACTION, sent=False)
    assert not retry.retry_connection_error(ACTION, sent=True)
    assert retry.retry_connection_error(READ, sent=True) and retry.retry_connection_error(WRITE, sent=True)


def test_retry_after_wins_over_backoff() -> None:
    assert retry.delay(3, retry_after=7) == 7
    assert [retry.delay(n, None) for n in (1, 2, 3, 10)] == [0.5, 1.0, 2.0, 30.0]


def test_steps_run_again_only_for_what_the_http_layer_may_not_retry() -> None:
    assert retry.rerun_step(Unconfirmed("stop sent, answer lost")) and retry.rerun_step(OperationInterrupted("InternalServerError"))
    for already_retried in (TransientError("503 nine times"), Throttled("429 nine times"), Conflict("x"), NotFound("x")):
        assert not retry.rerun_step(already_retried)


def test_tenacity_waits_only_for_the_condition_it_is_given() -> None:
    slept: list[float] = []
    calls: Iterator[Exception | str] = iter([Conflict("Etag conflict"), Conflict("Etag conflict"), "ok"])

    def flaky() -> str:
        outcome = next(calls)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    assert retry.retrying(when=lambda e: isinstance(e, Conflict), sleep=slept.append)(flaky) == "ok"
    assert slept == [0.5, 1.0]


def test_tenacity_never_repeats_what_the_http_layer_owns() -> None:
    attempts: list[int] = []

    def read() -> None:
        attempts.append(1)
        raise TransientError("503 after the HTTP layer's retries")

    with pytest.raises(TransientError):
        retry.retrying(when=lambda e: isinstance(e, Conflict), sleep=lambda s: None)(read)
    assert attempts == [1]


def test_a_burst_past_the_write_bucket_waits_for_what_arm_says_is_left(env: Env) -> None:
    env.control.settings(throttle={"writes": [3, 1]})
    for n in range(5):
        resources.ensure_resource_group(env.clients, SUB.replace("1", "5"), f"rg-{n}", "eastus")
    assert [r for r in env.control.requests() if r["status"] == 429] == [], "paced by x-ms-ratelimit-remaining-subscription-writes, never throttled"
    assert sum(env.sleeps) >= 2.0, "two writes past the burst of 3 at 1 per second: at least 2 s waited, on the injected clock"
    assert [g.name for g in [resources.get_resource_group(env.clients, SUB.replace("1", "5"), f"rg-{n}") for n in range(5)] if g] == [f"rg-{n}" for n in range(5)]


def test_throttle_headers_report_what_is_left_and_when_to_come_back(env: Env) -> None:
    env.control.settings(throttle={"reads": [2, 1]})
    sub = SUB.replace("1", "6")
    url = f"{env.emulator.base_url}/subscriptions/{sub}/resourcegroups?api-version=2025-04-01"
    raw = env.fresh_clients()
    raw.arm(sub)  # build it, then send with azure-core's own retries out of the way
    first = raw.arm(sub).send_request(HttpRequest("GET", url), retry_total=0)
    second = raw.arm(sub).send_request(HttpRequest("GET", url), retry_total=0)
    third = raw.arm(sub).send_request(HttpRequest("GET", url), retry_total=0)
    assert [r.headers["x-ms-ratelimit-remaining-subscription-reads"] for r in (first, second)] == ["1", "0"]
    assert third.status_code == 429 and third.headers["Retry-After"] == "1"
    assert third.json()["error"]["code"] == "TooManyRequests"


def _sent(env: Env, path_end: str, method: str) -> list[str | None]:
    """The faults each matching request met, in the order sent (None: answered normally), from the emulator's log."""
    return [r["fault"] for r in env.control.requests() if r["method"] == method and r["path"].endswith(path_end)]


@pytest.mark.parametrize("kind", ["429", "503", "500", "drop"])
def test_injected_faults_on_reads_are_retried(demo: Env, ws: ResourceId, kind: str) -> None:
    demo.control.fault(r"/workspaces/ml-prod-ws$", kind, method="GET", count=2)
    assert workspaces.get_workspace(demo.clients, ws).name == "ml-prod-ws"
    assert [bool(f) for f in _sent(demo, "/workspaces/ml-prod-ws", "GET")] == [True, True, False]


@pytest.mark.parametrize("kind", ["503", "500", "drop"])
def test_a_post_that_only_reads_is_retried_like_a_read(demo: Env, ws: ResourceId, kind: str) -> None:
    """checkPolicyRestrictions and run history's queries are POSTs that change nothing: sent again after a 5xx
    or a dropped connection, as any read."""
    demo.control.fault(r"/checkPolicyRestrictions$", kind, method="POST", count=2)
    demo.control.fault(r"/experiments:query$", kind, method="POST", count=2)
    assert policy.denials(demo.clients, f"/subscriptions/{SUB}/resourceGroups/ml-prod", "Microsoft.MachineLearningServices/workspaces/computes", "eastus") == []
    assert profiling.running_profile_runs(demo.clients, ws) == []
    assert _sent(demo, "/checkPolicyRestrictions", "POST") == [kind, kind, None]
    assert _sent(demo, "/experiments:query", "POST") == [kind, kind, None]


@pytest.mark.parametrize("kind", ["503", "500", "drop"])
def test_an_idempotent_write_is_retried(demo: Env, ws: ResourceId, kind: str) -> None:
    demo.control.fault(r"/computes/alice-ci/updateIdleShutdownSetting$", kind, method="POST", count=2)
    demo.control.fault(r"/privateEndpointConnections/", kind, method="PUT", count=2)
    computes.update_idle_shutdown(demo.clients, ws, "alice-ci", "PT45M")
    pending = network.list_connections(demo.clients, ws)[0]
    network.set_connection_status(demo.clients, ws, pending.name, "Rejected", "test")
    assert computes.get_compute(demo.clients, ws, "alice-ci").idle_time_before_shutdown == "PT45M"
    assert network.get_connection(demo.clients, ws, pending.name).status == "Rejected"
    assert _sent(demo, "/updateIdleShutdownSetting", "POST") == [kind, kind, None]
    assert _sent(demo, f"/privateEndpointConnections/{pending.name}", "PUT") == [kind, kind, None]


@pytest.mark.parametrize("kind", ["500", "503", "drop"])
def test_an_action_that_may_have_landed_is_not_resent(demo: Env, ws: ResourceId, kind: str) -> None:
    """A 5xx or a dropped connection after a stop, a listSecrets: Azure may have acted, so it is not sent again;
    the caller is told the answer was lost (Unconfirmed) and looks at Azure before sending anything."""
    demo.control.fault(r"/computes/alice-ci/stop$", kind, method="POST", count=1)
    demo.control.fault(r"/listSecrets$", kind, method="POST", count=1)
    with pytest.raises(Unconfirmed):
        computes.stop_compute(demo.clients, ws, "alice-ci")
    store = next(d for d in datastores.list_datastores(demo.clients, ws) if d.credentials_type not in ("None", ""))
    with pytest.raises(Unconfirmed):
        datastores.read_secrets(demo.clients, ws, store.name)
    assert _sent(demo, "/computes/alice-ci/stop", "POST") == [kind]
    assert _sent(demo, "/listSecrets", "POST") == [kind]


def test_a_429_on_an_action_is_resent(demo: Env, ws: ResourceId) -> None:
    demo.control.fault(r"/computes/alice-ci/stop$", "429", method="POST", count=1)
    computes.stop_compute(demo.clients, ws, "alice-ci")
    assert computes.get_compute(demo.clients, ws, "alice-ci").state == "Stopped"
    assert demo.sleeps == [1.0]
    assert _sent(demo, "/computes/alice-ci/stop", "POST") == ["429", None]


def test_an_action_through_mlclient_is_not_resent(demo: Env, ws: ResourceId) -> None:
    """The kind reaches azure-core's pipeline for SDK calls too: a job submission through MLClient that met a 503."""
    demo.control.fault(r"/jobs/chaos-job$", "503", method="PUT", count=1)
    with pytest.raises(Unconfirmed):
        jobs.submit_command_job(demo.clients, ws, "chaos-job", "python train.py", "azureml:sklearn-env:1", "gpu-cluster")
    assert _sent(demo, "/jobs/chaos-job", "PUT") == ["503"]


def test_a_persistently_failing_read_is_sent_attempts_times(demo: Env, ws: ResourceId) -> None:
    demo.control.fault(r"/workspaces/ml-prod-ws$", "503", method="GET")
    with pytest.raises(TransientError) as err:
        workspaces.get_workspace(demo.clients, ws)
    assert not retry.rerun_step(err.value)
    assert len(_sent(demo, "/workspaces/ml-prod-ws", "GET")) == retry.ATTEMPTS


def test_persistent_throttling_surfaces_as_throttled_with_retry_after(demo: Env, ws: ResourceId) -> None:
    demo.control.fault(r"/workspaces/ml-prod-ws$", "429", method="GET", retry_after=3)
    with pytest.raises(Throttled) as err:
        workspaces.get_workspace(demo.clients, ws)
    assert err.value.retry_after == 3 and demo.sleeps == [3] * retry.RETRIES


def test_injected_conflict_is_not_retried(demo: Env, ws: ResourceId) -> None:
    demo.control.fault(r"/computes/alice-ci$", "409", method="GET", count=1)
    with pytest.raises(Conflict):
        computes.get_compute(demo.clients, ws, "alice-ci")
    assert len(_sent(demo, "/computes/alice-ci", "GET")) == 1


def test_the_pacer_keeps_a_burst_under_the_budget_without_429s(env: Env) -> None:
    """ARM's real figures on both sides: the emulator's buckets are ARM's documented defaults (200 writes,
    then 10 a second) and the clients pace with ARM_BUDGET, the figures every amlops client uses. The
    emulator's clock stands still except when the pacer waits, so both count the same seconds."""
    from amlops.pacing import ARM_BUDGET, RESERVE, Budget, Schedule

    rate, burst = ARM_BUDGET["writes"]
    schedule = Schedule(rate, burst)
    waits = [schedule.reserve(0.0) for _ in range(burst + 3)]
    assert waits[:burst] == [0.0] * burst and waits[burst:] == pytest.approx([1 / rate, 2 / rate, 3 / rate])

    waited = [0.0]

    def sleep(seconds: float) -> None:
        waited[0] += seconds
        env.control.advance(seconds)

    writes = burst + 15
    paced = env.fresh_clients()
    paced.budget = Budget(sleep=sleep, clock=lambda: waited[0])
    for n in range(writes):
        resources.ensure_resource_group(paced, SUB.replace("1", "8"), f"rg-{n}", "eastus")
    assert [r["status"] for r in env.control.requests() if r["method"] == "PUT"] == [201] * writes, "paced, never throttled"
    # The burst less the reserve ARM's answers are read against, give or take the request in flight.
    assert waited[0] == pytest.approx((writes - (burst - RESERVE)) / rate, abs=1.5 / rate), "and no slower than the budget less the reserve needs"

    env.control.call("DELETE", "requests")
    unpaced = env.fresh_clients()
    unpaced.budget = Budget(sleep=sleep, limits={k: (1e9, 10**9) for k in ARM_BUDGET})
    for n in range(writes):
        resources.ensure_resource_group(unpaced, SUB.replace("1", "9"), f"rg-{n}", "eastus")
    assert sum(1 for r in env.control.requests() if r["status"] == 429) > 0, "the same burst unpaced runs into ARM's bucket"
