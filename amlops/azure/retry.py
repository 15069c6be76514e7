"""Who retries what after a failed Azure call, and the pure decisions they follow.

Each decision has exactly one owner, so a call is never retried by two layers at once:

1. **The HTTP layer**: azure-core's pipeline, through ``GatewayRetryPolicy``, installed in every client amlops
   builds (ARM, Microsoft Graph, and MLClient, so SDK calls and long-running operations' status polls are
   covered). It owns every transient failure of one request: 408, 429, 500, 502, 503, 504 and dropped
   connections, sent up to ``ATTEMPTS`` times in all, waiting Azure's ``Retry-After`` when it sends one, else an
   exponential backoff (``delay``), as azure-core's RetryPolicy does. What may be sent again follows what the
   call does (``Kind``), which the gateway declares next to each call (``declared``; ``errors.azure_errors``),
   whatever its HTTP method:

   - ``READ``: changes nothing (GETs; and POSTs that only read: run history's ``experiments:query`` and
     ``runs:query``, Graph's ``getByIds``, ``checkPolicyRestrictions``, ``validateMoveResources``). Retried.
   - ``WRITE``: idempotent, the same request twice ends the same (PUT, DELETE, setting idle shutdown). Retried.
   - ``ACTION``: must not be repeated blindly (moveResources, start, stop, restart, listSecrets, a job
     submission). Sent again only where Azure provably did not act: a 429 (refused before processing), or a
     connection that failed before the request was sent. After a 5xx or a connection dropped once the
     request was out, Azure may have acted: the call raises ``Unconfirmed`` at once.

   A GET is always a read. A request nobody declared is judged by its method (GET, HEAD, OPTIONS read;
   PUT, DELETE idempotent; POST, PATCH actions): the safe side.
2. **The step**: Prefect task retries (``tasks/common.py``), for ``rerun_step`` errors only: ``Unconfirmed``
   (an action's answer was lost) and ``OperationInterrupted`` (an accepted operation Azure ended with its own
   trouble). Every step reads Azure's state before it writes, so running it again sends the action only if
   Azure did not act. The move's ``send_move`` is never rerun: the flow finds where the workspace is first.
   The fleet settles its own (``tasks/compute_power.py``): an unconfirmed start or stop is looked up in the
   workspace's next list of computes (the list that follows its open operations) and sent again only if the
   instance did not change.
3. **Domain waits** (``retrying``, tenacity): conditions that are not HTTP faults and that Azure documents
   as passing, named by the caller: the same-name Etag conflict after a move, the groups ARM locks while a
   move runs. Never 429 or 5xx: layer 1 owns them.

Blob storage (checkpoints, the move's shared state) is not ARM: azure-storage-blob's own ExponentialRetry owns it
(408, 5xx, dropped connections; 3 retries), as its calls are reads, whole-blob writes, and lease calls that name
their lease id (acquiring or renewing twice with the same id ends the same).

So a read that keeps failing is sent ``ATTEMPTS`` times, and the run ends with ``TransientError`` (exit 1):
nothing above multiplies it; an action whose answer was lost is looked up, not resent blindly.
"""

from __future__ import annotations

import contextlib
import contextvars
import enum
import time
from collections.abc import Callable, Iterator
from typing import Any

import tenacity
from azure.core.exceptions import ServiceRequestError, ServiceResponseError
from azure.core.pipeline import PipelineResponse
from azure.core.pipeline.policies import RetryPolicy

from amlops.errors import AmlopsError, OperationInterrupted, Unconfirmed

RETRIES = 8  # a request is sent at most 1 + RETRIES times: 20% independent faults fail one request in ~2 million
ATTEMPTS = 1 + RETRIES
TRANSIENT_STATUS = frozenset({408, 429, 500, 502, 503, 504})
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
Sleep = Callable[[float], None]


class Kind(enum.Enum):
    """What an Azure call does, declared in the gateway next to the call."""

    READ = "read"
    WRITE = "write"  # idempotent
    ACTION = "action"  # not idempotent


# The kind the gateway declared for the calls it is making now (this thread's context).
_DECLARED: contextvars.ContextVar[Kind | None] = contextvars.ContextVar("amlops_call_kind", default=None)


@contextlib.contextmanager
def declared(kind: Kind | None) -> Iterator[None]:
    """Every request sent inside is of ``kind`` (GETs stay reads); None keeps the enclosing declaration."""
    if kind is None:
        yield
        return
    token = _DECLARED.set(kind)
    try:
        yield
    finally:
        _DECLARED.reset(token)


def current() -> Kind | None:
    return _DECLARED.get()


# -- pure decisions


def kind_of(method: str, declared_kind: Kind | None) -> Kind:
    """The kind of one request: a GET is a read whatever was declared; undeclared, its method decides."""
    method = method.upper()
    if method in SAFE_METHODS:
        return Kind.READ
    if declared_kind is not None:
        return declared_kind
    return Kind.WRITE if method in ("PUT", "DELETE") else Kind.ACTION


def retry_response(kind: Kind, status: int) -> bool:
    """Should a request of this kind that got this status be sent again?"""
    if status == 429:
        return True  # throttled before it was processed: safe for any kind
    return status in TRANSIENT_STATUS and kind is not Kind.ACTION


def retry_connection_error(kind: Kind, sent: bool) -> bool:
    """A failed connection: safe to resend if nothing reached the server, or the call is not an action."""
    return not sent or kind is not Kind.ACTION


def delay(attempt: int, retry_after: float | None, base: float = 0.5, cap: float = 30.0) -> float:
    """Seconds to wait before attempt ``attempt + 1``: Retry-After first, else capped exponential."""
    if retry_after is not None and retry_after >= 0:
        return float(retry_after)
    return min(cap, base * (2 ** max(0, attempt - 1)))


def rerun_step(error: BaseException) -> bool:
    """For Prefect's retry_condition_fn: run the step again? Only after an action's lost answer or an
    operation Azure failed on its own; what the HTTP layer already retried is not retried again."""
    return isinstance(error, (Unconfirmed, OperationInterrupted))


# -- layer 1: azure-core's pipeline, with our decisions; waits go through the transport's sleep


class GatewayRetryPolicy(RetryPolicy):
    """azure-core's RetryPolicy deciding by the call's kind (``declared``) rather than by its HTTP method."""

    def __init__(self, retries: int = RETRIES, backoff: float = 0.5, **kwargs: Any) -> None:
        super().__init__(
            retry_total=retries, retry_connect=retries, retry_read=retries, retry_status=retries,
            retry_backoff_factor=backoff, retry_backoff_max=30, **kwargs,
        )  # fmt: skip

    def is_retry(self, settings: dict[str, Any], response: PipelineResponse[Any, Any]) -> bool:
        if not settings["total"]:
            return False
        request = response.http_request
        return retry_response(kind_of(request.method, current()), response.http_response.status_code)

    def _is_method_retryable(self, settings: dict[str, Any], request: Any, response: Any = None) -> bool:
        method = request.method if hasattr(request, "method") else request.http_request.method
        if response is not None:
            return retry_response(kind_of(method, current()), response.status_code)
        return True  # a connection error: increment(), which sees the error, decides

    def increment(self, settings: dict[str, Any], response: Any = None, error: Exception | None = None) -> bool:
        if error is not None:
            if not isinstance(error, (ServiceRequestError, ServiceResponseError)):
                return False
            request = response.http_request
            if not retry_connection_error(kind_of(request.method, current()), sent=not isinstance(error, ServiceRequestError)):
                return False
        return bool(super().increment(settings, response=response, error=error))

    def sleep(self, settings: dict[str, Any], transport: Any, response: PipelineResponse[Any, Any] | None = None) -> None:
        retry_after = self.get_retry_after(response) if response is not None else None
        transport.sleep(delay(len(settings["history"]), retry_after, base=self.backoff_factor))  # the transport's sleep: injectable


# -- layer 3: tenacity, for conditions the caller names (never HTTP faults)


def _wait(state: tenacity.RetryCallState) -> float:
    return delay(state.attempt_number, None)


def retrying(*, when: Callable[[BaseException], bool], attempts: int = 5, sleep: Sleep = time.sleep) -> tenacity.Retrying:
    """A tenacity policy for a condition Azure documents as passing (``when``), with capped exponential backoff."""
    return tenacity.Retrying(
        retry=tenacity.retry_if_exception(lambda error: isinstance(error, AmlopsError) and when(error)),
        wait=_wait,
        stop=tenacity.stop_after_attempt(attempts),
        sleep=sleep,
        reraise=True,
    )
