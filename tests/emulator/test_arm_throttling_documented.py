"""How ARM counts requests, checked against the text of Azure's documentation, never against amlops' own pacer:
"Understand how Azure Resource Manager throttles requests",
https://learn.microsoft.com/azure/azure-resource-manager/management/request-limits-and-throttling

Raw HTTPS requests (no SDK retry policy in the way), the emulator's clock frozen: tokens come back only when the
test advances it."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
import requests

from amlops.emulator import throttle
from tests.conftest import SUB, TARGET_SUB, Env

DOC = "https://learn.microsoft.com/azure/azure-resource-manager/management/request-limits-and-throttling"

# Section "Regional throttling and token bucket algorithm", as the documentation reads:
DOCUMENTED_BUCKETS = """
| Scope | Operations | Bucket size | Refill rate per sec |
| --- | --- | --- | --- |
| Subscription | reads | 250 | 25 |
| Subscription | deletes | 200 | 10 |
| Subscription | writes | 200 | 10 |
| Tenant | reads | 250 | 25 |
| Tenant | deletes | 200 | 10 |
| Tenant | writes | 200 | 10 |
"""
# "The subscription limits apply per subscription, per service principal, and per operation type."
# Section "Error code": "When you reach the limit, you receive the HTTP status code 429 Too many requests. The response
# includes a Retry-After value, which specifies the number of seconds your application should wait (or sleep) before
# sending the next request. If you send a request before the retry value has elapsed, your request isn't processed and
# a new retry value is returned."
# Section "Remaining requests":
DOCUMENTED_HEADERS = """
| x-ms-ratelimit-remaining-subscription-deletes |Subscription scoped deletes remaining. This value is returned on delete operations. |
| x-ms-ratelimit-remaining-subscription-reads |Subscription scoped reads remaining. This value is returned on read operations. |
| x-ms-ratelimit-remaining-subscription-writes |Subscription scoped writes remaining. This value is returned on write operations. |
"""


def _buckets() -> dict[str, tuple[int, int]]:
    rows = re.findall(r"\| Subscription \| (\w+) \| (\d+) \| (\d+) \|", DOCUMENTED_BUCKETS)
    return {op: (int(size), int(rate)) for op, size, rate in rows}


def _headers() -> dict[str, str]:
    """Operation type -> the header the documentation says it returns."""
    return {op: name for name, op in re.findall(r"\| (x-ms-ratelimit-remaining-subscription-(\w+)) \|", DOCUMENTED_HEADERS)}


def test_the_emulator_s_buckets_are_the_documented_ones() -> None:
    assert {k: (int(b), int(r)) for k, (b, r) in throttle.DEFAULT_LIMITS.items()} == _buckets()


@pytest.fixture
def arm(env: Env) -> Iterator[requests.Session]:
    env.load_demo()  # the control reset leaves the documented limits in force
    with requests.Session() as session:
        session.trust_env = False  # the machine's CA bundle would override verify
        session.verify = str(env.emulator.ca_file)
        session.headers["Authorization"] = "Bearer emulator"
        yield session


def _get(env: Env, s: requests.Session, subscription: str = SUB) -> requests.Response:
    return s.get(f"{env.emulator.base_url}/subscriptions/{subscription}/resourcegroups", params={"api-version": "2025-04-01"})


def test_reads_drain_the_bucket_then_429_with_retry_after_and_refill_at_the_documented_rate(env: Env, arm: requests.Session) -> None:
    size, rate = _buckets()["reads"]
    header = _headers()["reads"]
    remaining = [int(_get(env, arm).headers[header]) for _ in range(size)]
    assert remaining == list(range(size - 1, -1, -1)), "one token a request, counted down in the documented header"
    refused = _get(env, arm)
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) >= 1
    again = _get(env, arm)  # "before the retry value has elapsed": not processed, a new retry value
    assert again.status_code == 429 and "Retry-After" in again.headers
    assert _get(env, arm, TARGET_SUB).status_code == 200, "another subscription has its own bucket"
    env.control.advance(int(refused.headers["Retry-After"]))
    assert _get(env, arm).status_code == 200, "after waiting Retry-After seconds the next request is served"
    drained = sum(_get(env, arm).status_code == 200 for _ in range(rate + 5))
    assert drained == rate - 1, f"Retry-After seconds gave back a second's {rate} tokens, one of them used above"
    env.control.advance(1)
    served = sum(_get(env, arm).status_code == 200 for _ in range(rate + 5))
    assert served == rate, f"each second, {rate} tokens become available"


def test_writes_and_deletes_have_their_own_buckets_and_headers(env: Env, arm: requests.Session) -> None:
    sizes, headers = _buckets(), _headers()
    for _ in range(sizes["reads"][0]):
        _get(env, arm)
    assert _get(env, arm).status_code == 429, "reads are exhausted"
    group = f"{env.emulator.base_url}/subscriptions/{SUB}/resourcegroups/scratch"
    put = arm.put(group, params={"api-version": "2025-04-01"}, json={"location": "westeurope"})
    assert put.status_code in (200, 201) and int(put.headers[headers["writes"]]) == sizes["writes"][0] - 1
    deleted = arm.delete(group, params={"api-version": "2025-04-01"})
    assert deleted.status_code < 300 and int(deleted.headers[headers["deletes"]]) == sizes["deletes"][0] - 1
    assert headers["reads"] not in put.headers, "a write reports the writes remaining"
