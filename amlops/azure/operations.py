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

Azure ML names neither style consistently (recorded: a compute start answers Azure-AsyncOperation only, an online
endpoint's DELETE both, its PUT Location naming the endpoint itself) and sends no Retry-After of any kind
(tests/recorded/recordings/). Both styles are followed; without Retry-After, ``schedule`` says when to ask: at once
(an operation Azure finished in its answer's wake costs no wait), then after 1, 2, 4... seconds up to the interval
Azure's own SDK polls that kind of operation at: about 30 s for compute, 5 s for online and batch endpoints
(recorded sessions), azure-mgmt's 30 s for the rest. Every wait goes through the clients' sleep, so tests spend
emulator time, not real time.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

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


# The interval Azure's SDK polls each kind of operation at when Azure names none (path fragment, seconds).
INTERVALS = (("/computes/", 30.0), ("Endpoints/", 5.0))
DEFAULT_INTERVAL = 30.0  # azure-mgmt's default polling interval


def interval_for(path: str) -> float:
    return next((seconds for fragment, seconds in INTERVALS if fragment.lower() in path.lower()), DEFAULT_INTERVAL)


def schedule(polls: int, interval: float) -> float:
    """Seconds to wait before the next check when Azure sent no Retry-After, after ``polls`` checks: none before the
    first, then 1, 2, 4... up to ``interval``."""
    return 0.0 if polls <= 0 else min(interval, 2.0 ** (polls - 1))


@dataclass
class Operation:
    """An operation ARM accepted: where it reports, and how long to wait before asking."""

    url: str
    status_resource: bool  # Azure-AsyncOperation (status in the body) rather than Location (status in the code)
    retry_after: float  # seconds until the next check: Azure's Retry-After when it sends one, else the schedule's
    interval: float = DEFAULT_INTERVAL
    polls: int = 0  # checks made so far
    waited: float = 0.0  # seconds slept for it so far


def _retry_after(response: Any) -> float | None:
    for name, scale in RETRY_HEADERS:
        value = response.headers.get(name)
        if value and re.fullmatch(r"\d+(\.\d+)?", value):
            return float(value) * scale
    return None


def start(
    clients: Clients, subscription: str, method: str, path: str, api_version: str, body: Any = None, query: dict[str, str] | None = None, *, kind: Kind
) -> tuple[Operation | None, Any]:
    """Send the request that starts the operation (``kind``: what it does, amlops.azure.retry): the operation to
    follow (None when Azure finished it in the answer itself) and the answer's body."""
    with azure_errors(kind):
        response = clients.arm(subscription).send_request(HttpRequest(method, rest.full_url(clients, path, api_version, query), json=body))
        if response.status_code >= 400:
            raise translate(HttpResponseError(response=response))
        answer = response.json() if response.content else None
    status_url = response.headers.get("Azure-AsyncOperation")
    location = response.headers.get("Location")
    if location and urlsplit(location).path.rstrip("/").lower() == path.rstrip("/").lower():
        location = None  # Location naming the resource itself says where it lives (a datastore's 201), not how it goes
    url = status_url or location
    # An update answered 200 can still run: an online endpoint's traffic update is 200 with Azure-AsyncOperation, and
    # its endpoint says Updating until the operation ends (online_endpoint_e2e.json); followed, not taken as done.
    running = response.status_code in (201, 202) or (response.status_code == 200 and status_url is not None)
    if not running or not url:
        return None, answer
    interval = interval_for(path)
    after = _retry_after(response)
    return Operation(url, bool(status_url), schedule(0, interval) if after is None else after, interval), answer


def begin(
    clients: Clients, subscription: str, method: str, path: str, api_version: str, body: Any = None, query: dict[str, str] | None = None, *, kind: Kind
) -> Operation | None:
    """Send the request that starts the operation (``kind``: what it does); None when Azure finished it in the answer itself."""
    return start(clients, subscription, method, path, api_version, body, query, kind=kind)[0]


def check(clients: Clients, subscription: str, op: Operation) -> bool:
    """Ask once how the operation went: True when it succeeded, False while it runs (op.retry_after updated).
    A failed or canceled operation raises Azure's reason (OperationFailed, or OperationInterrupted for Azure's own trouble)."""
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
    op.polls += 1
    if not done:
        after = _retry_after(response)
        op.retry_after = schedule(op.polls, op.interval) if after is None else after
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


def put(
    clients: Clients, resource_id: str, api_version: str, body: dict[str, Any], on_answered: Callable[[], None] = lambda: None, *, read: bool = True
) -> dict[str, Any]:
    """PUT a resource, follow its operation to the end (either style), and return the resource as Azure then has it.
    ``on_answered`` is called once Azure has answered the PUT, before its operation is followed. With ``read=False``
    the resource is not read again once its operation has succeeded (the PUT's own answer is returned): for callers
    that use nothing of it, a round trip fewer after the wait (an online endpoint's chain of PUTs has three)."""
    subscription = resource_id.split("/")[2]
    fields = {k: body[k] for k in ("location", "tags", "properties", "sku", "identity", "kind") if body.get(k) is not None}
    op, answer = start(clients, subscription, "PUT", resource_id, api_version, fields, kind=Kind.WRITE)
    on_answered()
    if op is None and isinstance(answer, dict):
        return answer
    if op is not None:
        wait(clients, subscription, op, None, f"PUT of '{resource_id}'")
    if not read:
        return answer if isinstance(answer, dict) else {}
    return rest.send(clients, subscription, "GET", resource_id, api_version) or {}


def delete(clients: Clients, resource_id: str, api_version: str, query: dict[str, str] | None = None) -> None:
    """DELETE a resource and follow its operation (either style) to the end."""
    subscription = resource_id.split("/")[2]
    op, _ = start(clients, subscription, "DELETE", resource_id, api_version, query=query, kind=Kind.WRITE)
    if op is not None:
        wait(clients, subscription, op, None, f"DELETE of '{resource_id}'")


def act(clients: Clients, resource_id: str, action: str, api_version: str, body: Any = None, *, kind: Kind) -> None:
    """POST an action (``{resource}/{action}``, ``kind``: what it does) and follow its operation, if Azure started
    one, to the end."""
    subscription = resource_id.split("/")[2]
    op, _ = start(clients, subscription, "POST", f"{resource_id}/{action}", api_version, body, kind=kind)
    if op is not None:
        wait(clients, subscription, op, None, f"{action} of '{resource_id}'")
