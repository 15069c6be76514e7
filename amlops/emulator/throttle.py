"""ARM's per-subscription throttling: token buckets for reads, writes and deletes.

Follows "Understand how Azure Resource Manager throttles requests" (learn.microsoft.com/azure/azure-resource-manager/
management/request-limits-and-throttling), section "Regional throttling and token bucket algorithm": per subscription
(and per service principal: the emulator has one caller) and per operation type, a bucket of 250 reads refilled at 25
a second, 200 writes and 200 deletes refilled at 10 a second; a throttled request gets 429 with Retry-After in
seconds; each answer carries x-ms-ratelimit-remaining-subscription-{reads,writes,deletes} and, as recorded Azure
does, the global per-subscription counter beside it (...-subscription-global-{kind}, 15 times a principal's). The
tenant buckets and a separate global bucket are not modelled: every emulated request names a subscription and comes
from one principal, whose bucket runs out first. tests/emulator/test_arm_throttling_documented.py checks this against the text.

Pure: the caller passes the time, so tests drive it with the virtual clock.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field


@dataclass
class Bucket:
    capacity: float
    rate: float  # tokens per second
    tokens: float = -1.0
    stamp: float = 0.0

    def take(self, now: float) -> tuple[bool, float]:
        """Take one token. Returns (allowed, seconds until one is available)."""
        if self.tokens < 0:
            self.tokens, self.stamp = self.capacity, now
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True, 0.0
        return False, (1 - self.tokens) / self.rate


# ARM's documented limits per subscription (and principal) and region: bucket size, refill rate per second.
DEFAULT_LIMITS = {"reads": (250.0, 25.0), "writes": (200.0, 10.0), "deletes": (200.0, 10.0)}


@dataclass
class Throttler:
    limits: dict[str, tuple[float, float]] = field(default_factory=lambda: dict(DEFAULT_LIMITS))
    enabled: bool = True
    _buckets: dict[tuple[str, str], Bucket] = field(default_factory=dict)

    def configure(self, scale: float = 1.0, **limits: tuple[float, float]) -> None:
        """Scale the defaults (tests use small buckets) or set a kind's (burst, rate) outright."""
        self.limits = {k: (b * scale, r * scale) for k, (b, r) in DEFAULT_LIMITS.items()}
        self.limits.update(limits)
        self._buckets.clear()

    def check(self, subscription: str, kind: str, now: float) -> tuple[bool, int, int]:
        """Returns (allowed, remaining tokens, Retry-After seconds)."""
        if not self.enabled:
            return True, int(self.limits[kind][0]), 0
        bucket = self._buckets.get((subscription, kind))
        if bucket is None:
            bucket = self._buckets[(subscription, kind)] = Bucket(*self.limits[kind])
        allowed, wait = bucket.take(now)
        return allowed, int(bucket.tokens), 0 if allowed else max(1, math.ceil(wait))

    def refund(self, subscription: str, kind: str) -> None:
        """Give back the token of a request ARM did not count after all."""
        bucket = self._buckets.get((subscription, kind))
        if self.enabled and bucket is not None:
            bucket.tokens = min(bucket.capacity, bucket.tokens + 1)

    def reset(self) -> None:
        self._buckets.clear()


# ARM's global per-subscription limit, 15 times a principal's ("Understand how Azure Resource Manager throttles
# requests"), reported beside it: reads 249 with global-reads 3749 on a session's first read (datastore_blob.json,
# online_endpoint_e2e.json: 250 x 15 - 1; 1099 with 16499 in the 2024 compute_instance_stop_start.json).
GLOBAL_FACTOR = 15


def global_remaining(remaining: int) -> int:
    return (remaining + 1) * GLOBAL_FACTOR - 1


def kind_of(method: str, path: str) -> str:
    """ARM counts reads, writes and deletes apart; list* and query actions are reads of state."""
    if method in ("GET", "HEAD"):
        return "reads"
    if method == "DELETE":
        return "deletes"
    last = path.rstrip("/").rsplit("/", 1)[-1].lower()
    # checkPolicyRestrictions evaluates a resource against policy and stores nothing (PolicyInsights REST spec).
    # Run history's ``experiments:query`` and ``runs:query`` (azureml-core's Run History client, get_by_query) and
    # Microsoft Graph's ``directoryObjects/getByIds`` ("Return the directory objects specified in a list of IDs")
    # are POSTs that only read.
    # A datastore's listSecrets is counted against the writes (datastore_blob.json: its answer carries
    # x-ms-ratelimit-remaining-subscription-writes), unlike the list* reads above; so is validateMoveResources,
    # though it changes nothing (move_validate_refused.json: its 202 carries ...-writes and ...-global-writes).
    if method == "POST" and last in ("listsecrets", "validatemoveresources"):
        return "writes"
    if method == "POST" and (last.startswith("list") or last.endswith(":query") or last in ("checkpolicyrestrictions", "getbyids")):
        return "reads"
    return "writes"
