"""What every handler shares: ids from route params, LRO answers, paged lists."""

from __future__ import annotations

import math
from typing import Any
from urllib.parse import urlencode

from amlops.emulator import lro
from amlops.emulator.errors import ArmError
from amlops.emulator.http import Request, Response
from amlops.emulator.models.common import public
from amlops.emulator.state import Operation, State


def group_id(req: Request) -> str:
    return f"/subscriptions/{req.params['sub']}/resourceGroups/{req.params['rg']}"


def workspace_id(req: Request) -> str:
    return f"{group_id(req)}/providers/Microsoft.MachineLearningServices/workspaces/{req.params['ws']}"


def fault_error(req: Request) -> ArmError | None:
    """The error for a request whose long-running operation a fault rule says must fail."""
    if req.lro_error is None:
        return None
    code, message = req.lro_error
    return ArmError(500, code, message)


# Where Azure ML's long-running operations report: Azure-AsyncOperation .../computeOperationsStatus/{id} for
# computes (tests/recorded/recordings/compute_instance_stop_start.json), .../mfeOperationsStatus/{id} and Location
# .../mfeOperationResults/{id} for endpoints (online_endpoint_e2e.json) and schedules (schedule_create_update_disable.json);
# ARM's generic names for the rest.
MONITORS = {
    "compute": ("computeOperationsStatus", "operationResults"),
    "endpoint": ("mfeOperationsStatus", "mfeOperationResults"),
    "deployment": ("mfeOperationsStatus", "mfeOperationResults"),
    "schedule": ("mfeOperationsStatus", "mfeOperationResults"),
    "workspace": ("workspaceOperationsStatus", "workspaceOperationsStatus"),  # both headers name it (workspace_delete.json)
}
ML = "Microsoft.MachineLearningServices"


def _family(op: Operation) -> str:
    return op.kind.split(".")[0] if op.namespace == ML else ""


def _op_path(op: Operation, status: bool) -> str:
    names = MONITORS.get(_family(op), ("operationStatuses", "operationResults"))
    return f"/subscriptions/{op.subscription}/providers/{op.namespace}/locations/{op.location}/{names[0 if status else 1]}/{op.id}"


def _hint(state: State, op: Operation) -> dict[str, str]:
    """How long to wait, where Azure says so. Azure ML's operations carry no Retry-After of any kind: the SDK polled
    compute about every 30 s and endpoints about every 5 s on its own schedule (compute_instance_stop_start.json,
    online_endpoint_e2e.json, datastore_blob.json: none of their answers has one). ARM's own operations (validate,
    move, resource group delete) name Retry-After in seconds (resource_group_delete.json: 15 on the 202 and on each
    202 poll); the emulator says how long its operation still needs, rounded up."""
    if op.namespace == ML:
        return {}
    return {"Retry-After": str(math.ceil(lro.retry_after_ms(state, op) / 1000))}


def accepted(
    state: State,
    req: Request,
    op: Operation,
    *,
    status: int = 202,
    body: Any = None,
    async_header: bool = True,
    location_header: bool = False,
    location: str | None = None,
    timeout: str | None = None,
) -> Response:
    """A long-running operation's first answer: 201/202 with the headers Azure sends for it.

    ``location`` names the resource itself (an online endpoint's PUT: Location is the endpoint, online_endpoint_e2e.json);
    ``location_header`` points Location at the operation's result; ``timeout`` is x-ms-async-operation-timeout."""
    headers = {**_hint(state, op), "x-ms-request-id": op.id}
    # A workspace's two headers name one monitor, told apart by ?type=async|location (workspace_delete.json).
    kinds = ({"type": "async"}, {"type": "location"}) if _family(op) == "workspace" else ({}, {})
    if async_header:
        headers["Azure-AsyncOperation"] = req.url(_op_path(op, True), **{"api-version": req.api_version}, **kinds[0])
    if location is not None:
        headers["Location"] = req.url(location, **{"api-version": req.api_version})
    elif location_header:
        headers["Location"] = req.url(_op_path(op, False), **{"api-version": req.api_version}, **kinds[1])
    if timeout:
        headers["x-ms-async-operation-timeout"] = timeout
    return Response(status, public(body) if body is not None else None, headers)


def upserted(state: State, req: Request, result: tuple[dict[str, Any], Operation, bool]) -> Response:
    """A long-running create-or-update: 201 with the body when it created, 200 when it updated (ARM's PUT)."""
    body, op, is_new = result
    return accepted(state, req, op, status=201 if is_new else 200, body=body)


def deleting(state: State, req: Request, op: Operation) -> Response:
    """A long-running delete or action: 202 with a Location to poll, as ARM answers it."""
    return accepted(state, req, op, async_header=False, location_header=True)


NOT_ENDED = "0001-01-01T00:00:00+00:00"


def _status_body(req: Request, op: Operation) -> dict[str, Any]:
    """The status resource, as each family of Azure ML answers it.

    Computes: ``{"status": "InProgress"}``, then ``{"status": "Succeeded", "percentComplete": 100.0}``
    (compute_instance_stop_start.json). Endpoints: id, name, startTime, endTime (``0001-01-01T00:00:00+00:00`` until
    it ends), ``percentComplete`` 0.0 and status ``Updating`` while it runs (online_endpoint_e2e.json). Others: ARM's
    documented shape (id, name, status, startTime, endTime)."""
    family = _family(op)
    body: dict[str, Any]
    if family == "compute":
        body = {"status": op.status}
        if op.status == "Succeeded":
            body["percentComplete"] = 100.0
    elif family == "schedule":  # {id, name, status}: Creating while it runs, then startTime and endTime (schedule_create_update_disable.json)
        body = {"id": req.path, "name": op.id, "status": "Creating" if op.status == "InProgress" else op.status}
        if op.ended:
            body.update(startTime=op.started, endTime=op.ended)
    elif family in ("endpoint", "deployment"):
        body = {
            "id": req.path,
            "name": op.id,
            "startTime": op.started,
            "endTime": op.ended or NOT_ENDED,
            "percentComplete": 0.0,
            "status": "Updating" if op.status == "InProgress" else op.status,
        }
    else:
        body = {"id": req.path, "name": op.id, "status": op.status, "startTime": op.started}
        if op.ended:
            body["endTime"] = op.ended
    if op.error is not None:
        body["error"] = op.error.envelope()["error"]
    return body


def operation_status(state: State, req: Request) -> Response:
    op = _find(state, req)
    lro.poll(state, op)
    return Response(200, _status_body(req, op), _hint(state, op))


# Operations whose result ends 200 with an empty body, not 204: a resource group's delete (lock_blocks_group_delete.json).
EMPTY_200 = {"resourcegroup.delete"}


def operation_result(state: State, req: Request) -> Response:
    op = _find(state, req)
    lro.poll(state, op)
    if op.status == "InProgress":
        return Response(202, None, {"Location": req.url(req.path, **req.query), **_hint(state, op)})
    if op.error is not None:
        raise op.error
    if isinstance(op.result, dict):
        return Response(200, public(op.result))
    if op.kind in EMPTY_200:
        return Response(200)
    return Response(204)


def workspace_operation(state: State, req: Request) -> Response:
    """.../workspaceOperationsStatus/{id}: the status resource under ?type=async, the operation's result under ?type=location."""
    return operation_result(state, req) if req.query.get("type") == "location" else operation_status(state, req)


def _find(state: State, req: Request) -> Operation:
    op = state.operations.get(req.params["op"])
    if op is None:
        raise ArmError(404, "OperationNotFound", f"Operation '{req.params['op']}' was not found.")
    return op


def page(state: State, req: Request, items: list[dict[str, Any]]) -> Response:
    """ARM's paged collection: ``value`` and, past the page size, a ``nextLink``."""
    size = state.settings.page_size
    try:
        skip = int(req.query.get("$skipToken", "0"))
    except ValueError as err:
        raise ArmError(400, "InvalidSkipToken", "$skipToken is not one this server handed out.") from err
    body: dict[str, Any] = {"value": [public(i) for i in items[skip : skip + size]]}
    if skip + size < len(items):
        query = dict(req.query, **{"$skipToken": str(skip + size)})
        body["nextLink"] = f"{req.base_url}{req.path}?{urlencode(query)}"
    return Response(200, body)


def created(body: dict[str, Any], is_new: bool) -> Response:
    return Response(201 if is_new else 200, public(body))
