"""Throttling and transient faults: the gateway waits out Retry-After and never resends a non-idempotent call blindly."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from azure.core.rest import HttpRequest

from amlops.azure import computes, resources, retry, workspaces
from amlops.errors import Conflict, NotFound, Throttled, TransientError
from amlops.models import ResourceId
from tests.conftest import SUB, Env


@pytest.mark.parametrize(
    ("method", "status", "expected"),
    [("GET", 429, True), ("POST", 429, True), ("GET", 503, True), ("PUT", 500, True), ("POST", 500, False), ("PATCH", 503, False), ("GET", 404, False), ("DELETE", 409, False)],
)
def test_retry_decision_by_method_and_status(method: str, status: int, expected: bool) -> None:
    assert retry.retry_response(method, status) is expected


def test_connection_errors_resend_only_what_is_safe() -> None:
    assert retry.retry_connection_error("POST", sent=False)
    assert not retry.retry_connection_error("POST", sent=True)
    assert retry.retry_connection_error("GET", sent=True)


def test_retry_after_wins_over_backoff() -> None:
    assert retry.delay(3, retry_after=7) == 7
    assert [retry.delay(n, None) for n in (1, 2, 3, 10)] == [0.5, 1.0, 2.0, 30.0]


def test_tenacity_policy_retries_transient_idempotent_calls_honouring_retry_after() -> None:
    slept: list[float] = []
    calls: Iterator[Exception | str] = iter([Throttled("slow down", retry_after=4), TransientError("blip"), "ok"])

    def flaky() -> str:
        outcome = next(calls)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    assert retry.retrying(sleep=slept.append)(flaky) == "ok"
    assert slept == [4, 1.0]


def test_tenacity_policy_does_not_repeat_a_non_idempotent_call_after_a_5xx() -> None:
    attempts: list[int] = []

    def move() -> None:
        attempts.append(1)
        raise TransientError("500 from moveResources")

    with pytest.raises(TransientError):
        retry.retrying(idempotent=False, sleep=lambda s: None)(move)
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


@pytest.mark.parametrize("kind", ["429", "503", "500", "drop"])
def test_injected_faults_on_reads_are_retried(demo: Env, ws: ResourceId, kind: str) -> None:
    demo.control.fault(r"/workspaces/ml-prod-ws$", kind, method="GET", count=2)
    assert workspaces.get_workspace(demo.clients, ws).name == "ml-prod-ws"
    attempts = [r for r in demo.control.requests() if r["path"].endswith("/workspaces/ml-prod-ws")]
    assert [bool(r["fault"]) for r in attempts] == [True, True, False]


@pytest.mark.parametrize("kind", ["500", "drop"])
def test_a_post_that_may_have_landed_is_not_resent(demo: Env, ws: ResourceId, kind: str) -> None:
    """A 500 or a dropped connection after a POST: Azure may have acted, so the action is not sent again."""
    demo.control.fault(r"/computes/alice-ci/stop$", kind, method="POST", count=1)
    with pytest.raises(TransientError):
        computes.stop_compute(demo.clients, ws, "alice-ci")
    assert sum(1 for r in demo.control.requests() if r["path"].endswith("/stop")) == 1


def test_a_429_on_a_post_is_resent(demo: Env, ws: ResourceId) -> None:
    demo.control.fault(r"/computes/alice-ci/stop$", "429", method="POST", count=1)
    computes.stop_compute(demo.clients, ws, "alice-ci")
    assert computes.get_compute(demo.clients, ws, "alice-ci").state == "Stopped"
    assert demo.sleeps == [1.0]


def test_persistent_throttling_surfaces_as_throttled_with_retry_after(demo: Env, ws: ResourceId) -> None:
    demo.control.fault(r"/workspaces/ml-prod-ws$", "429", method="GET", retry_after=3)
    with pytest.raises(Throttled) as err:
        workspaces.get_workspace(demo.clients, ws)
    assert err.value.retry_after == 3 and retry.is_transient(err.value)


def test_injected_conflict_is_not_retried(demo: Env, ws: ResourceId) -> None:
    demo.control.fault(r"/computes/alice-ci$", "409", method="GET", count=1)
    with pytest.raises(Conflict):
        computes.get_compute(demo.clients, ws, "alice-ci")
    assert not retry.is_transient(Conflict("x")) and not retry.is_transient(NotFound("x"))


def test_the_pacer_keeps_a_burst_under_the_budget_without_429s(env: Env) -> None:
    """ARM's real figures on both sides: the emulator's buckets are ARM's documented defaults (200 writes,
    then 10 a second) and the clients pace with ARM_BUDGET, the figures every amlops client uses. The
    emulator's clock stands still except when the pacer waits, so both count the same seconds."""
    from amlops.pacing import ARM_BUDGET, Budget, Schedule

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
    assert waited[0] == pytest.approx((writes - burst) / rate, abs=1 / rate), "and no slower than the budget needs"

    env.control.call("DELETE", "requests")
    unpaced = env.fresh_clients()
    unpaced.budget = Budget(sleep=sleep, limits={k: (1e9, 10**9) for k in ARM_BUDGET})
    for n in range(writes):
        resources.ensure_resource_group(unpaced, SUB.replace("1", "9"), f"rg-{n}", "eastus")
    assert sum(1 for r in env.control.requests() if r["status"] == 429) > 0, "the same burst unpaced runs into ARM's bucket"
