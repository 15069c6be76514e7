"""ARM's asynchronous operations, followed without a thread each: a fleet holds hundreds open at once.

azure-core's LROPoller starts a thread per operation and sleeps in it; a nightly stop of thousands
of instances would hold hundreds of threads (and azure-ai-ml an MLClient per workspace) just to
wait. ARM's pattern is simple enough to follow directly, through the same pipeline (credential, our
retries, ARM pacing): the 201/202 answer names ``Azure-AsyncOperation`` (a status resource whose
``status`` is InProgress until Succeeded, Failed or Canceled, the reason under ``error``) and/or
``Location`` (202 while running, 200/204 when done, an error status when it failed), and
``Retry-After`` says when to ask again. Per
https://learn.microsoft.com/azure/azure-resource-manager/management/async-operations, and as
azure-core's own ``OperationResourcePolling``/``LocationPolling`` (azure/core/polling/base_polling.py) read it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from azure.core.exceptions import HttpResponseError
from azure.core.rest import HttpRequest

from amlops.azure import rest
from amlops.azure.clients import Clients
from amlops.azure.errors import azure_errors, translate
from amlops.azure.retry import Kind
from amlops.errors import TimedOut

TERMINAL = {"succeeded", "failed", "canceled", "cancelled"}
# The retry headers azure-core's polling reads, in its order (azure.core.utils._utils.get_retry_after).
RETRY_HEADERS = (("retry-after-ms", 0.001), ("x-ms-retry-after-ms", 0.001), ("Retry-After", 1.0))


@dataclass
class Operation:
    """An operation ARM accepted: where it reports, and how long to wait before asking."""

    url: str
    status_resource: bool  # Azure-AsyncOperation (status in the body) rather than Location (status in the code)
    retry_after: float
    waited: float = 0.0  # seconds slept for it so far


def _retry_after(response: Any, default: float) -> float:
    for name, scale in RETRY_HEADERS:
        value = response.headers.get(name)
        if value and re.fullmatch(r"\d+(\.\d+)?", value):
            return float(value) * scale
    return default


def begin(clients: Clients, subscription: str, method: str, path: str, api_version: str, body: Any = None, *, kind: Kind) -> Operation | None:
    """Send the request that starts the operation (``kind``: what it does, amlops.azure.retry); None when Azure
    finished it in the answer itself."""
    with azure_errors(kind):
        response = clients.arm(subscription).send_request(HttpRequest(method, rest.full_url(clients, path, api_version), json=body))
        if response.status_code >= 400:
            raise translate(HttpResponseError(response=response))
    status_url = response.headers.get("Azure-AsyncOperation")
    url = status_url or response.headers.get("Location")
    if response.status_code not in (201, 202) or not url:
        return None
    return Operation(url, bool(status_url), _retry_after(response, clients.poll_seconds))


def check(clients: Clients, subscription: str, op: Operation) -> bool:
    """Ask once how the operation went: True when it succeeded, False while it runs (op.retry_after updated).
    A failed or canceled operation raises Azure's reason (OperationFailed, or TransientError for Azure's own trouble)."""
    with azure_errors(Kind.READ):
        response = clients.arm(subscription).send_request(HttpRequest("GET", op.url))
        if response.status_code >= 400:
            raise translate(HttpResponseError(response=response))
        if op.status_resource:
            status = str((response.json() or {}).get("status", "")).lower()
            done, failed = status in TERMINAL, status not in ("succeeded", "")
        else:
            done, failed = response.status_code != 202, False
        if done and failed:
            raise translate(HttpResponseError(response=response))  # a 200 carrying Failed: translate reads its error
    if not done:
        op.retry_after = _retry_after(response, clients.poll_seconds)
    return done


def wait(clients: Clients, subscription: str, op: Operation, wait_seconds: float | None, what: str) -> None:
    """Follow one operation to its end through the clients' sleep; TimedOut past wait_seconds (Azure carries on)."""
    while True:
        if wait_seconds is not None and op.waited >= wait_seconds:
            raise TimedOut(f"{what} still running after {wait_seconds:.0f} s; Azure carries on with it.")
        pause = op.retry_after if wait_seconds is None else min(op.retry_after, max(0.0, wait_seconds - op.waited))
        if pause > 0:
            clients.sleep(pause)
            op.waited += pause
        if check(clients, subscription, op):
            return
