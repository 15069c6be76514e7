"""Which failures are transient, and how long to wait: pure decisions, then the loops that sleep.

Decisions follow azure-core's retry policy with one change of mind: a non-idempotent request
(POST, PATCH) is retried only when the server provably did not act on it (429, or the
connection failed before the request was sent). Retry-After, when the server sends it, wins.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import tenacity
from azure.core.pipeline import PipelineResponse
from azure.core.pipeline.policies import RetryPolicy

from amlops.errors import AmlopsError, Throttled, TransientError

IDEMPOTENT = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})
TRANSIENT_STATUS = frozenset({408, 429, 500, 502, 503, 504})
Sleep = Callable[[float], None]


# -- pure decisions


def retry_response(method: str, status: int) -> bool:
    """Should a request that got this status be sent again?"""
    if status == 429:
        return True  # throttled before it was processed: safe for any method
    return status in TRANSIENT_STATUS and method.upper() in IDEMPOTENT


def retry_connection_error(method: str, sent: bool) -> bool:
    """A failed connection: safe to resend if nothing reached the server, or the method is idempotent."""
    return not sent or method.upper() in IDEMPOTENT


def delay(attempt: int, retry_after: float | None, base: float = 0.5, cap: float = 30.0) -> float:
    """Seconds to wait before attempt ``attempt + 1``: Retry-After first, else capped exponential."""
    if retry_after is not None and retry_after >= 0:
        return float(retry_after)
    return min(cap, base * (2 ** max(0, attempt - 1)))


def is_transient(error: BaseException) -> bool:
    """For callers above the gateway (Prefect's retry_condition_fn): worth trying the step again?"""
    return isinstance(error, (Throttled, TransientError))


# -- the HTTP layer: azure-core's pipeline, with our decisions; waits go through the transport's sleep


class GatewayRetryPolicy(RetryPolicy):
    """Installed in every SDK client amlops builds, so LRO status polls are covered too."""

    def __init__(self, total: int = 6, **kwargs: Any) -> None:
        super().__init__(retry_total=total, retry_backoff_factor=0.5, retry_backoff_max=30, **kwargs)

    def is_retry(self, settings: dict[str, Any], response: PipelineResponse[Any, Any]) -> bool:
        if not settings["total"]:
            return False
        return retry_response(response.http_request.method, response.http_response.status_code)

    def _is_method_retryable(self, settings: dict[str, Any], request: Any, response: Any = None) -> bool:
        method = request.method if hasattr(request, "method") else request.http_request.method
        if response is not None:
            return retry_response(method, response.status_code)
        return method.upper() in IDEMPOTENT

    def sleep(self, settings: dict[str, Any], transport: Any, response: PipelineResponse[Any, Any] | None = None) -> None:
        retry_after = self.get_retry_after(response) if response is not None else None
        transport.sleep(delay(len(settings["history"]), retry_after))  # the transport's sleep: injectable


# -- the operation layer: tenacity, for whole gateway operations


def _wait(state: tenacity.RetryCallState) -> float:
    error = state.outcome.exception() if state.outcome else None
    retry_after = error.retry_after if isinstance(error, AmlopsError) else None
    return delay(state.attempt_number, retry_after)


def retrying(
    *,
    idempotent: bool = True,
    attempts: int = 5,
    sleep: Sleep = time.sleep,
    when: Callable[[BaseException], bool] | None = None,
) -> tenacity.Retrying:
    """A tenacity policy: transient errors (or ``when``) are retried; a non-idempotent call only if throttled."""

    def should(error: BaseException) -> bool:
        if when is not None and when(error):
            return True
        return isinstance(error, Throttled) or (idempotent and is_transient(error))

    return tenacity.Retrying(
        retry=tenacity.retry_if_exception(should),
        wait=_wait,
        stop=tenacity.stop_after_attempt(attempts),
        sleep=sleep,
        reraise=True,
    )
