"""What every handler shares: ids from route params, LRO answers, paged lists."""

from __future__ import annotations

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


def _op_path(op: Operation, kind: str) -> str:
    return f"/subscriptions/{op.subscription}/providers/{op.namespace}/locations/{op.location}/{kind}/{op.id}"


def accepted(
    state: State,
    req: Request,
    op: Operation,
    *,
    status: int = 202,
    body: Any = None,
    async_header: bool = True,
    location_header: bool = False,
) -> Response:
    """A long-running operation's first answer: 201/202 with the headers ARM sends."""
    headers = {"retry-after-ms": str(lro.retry_after_ms(state, op)), "x-ms-request-id": op.id}
    if async_header:
        headers["Azure-AsyncOperation"] = req.url(_op_path(op, "operationStatuses"), **{"api-version": req.api_version})
    if location_header:
        headers["Location"] = req.url(_op_path(op, "operationResults"), **{"api-version": req.api_version})
    return Response(status, public(body) if body is not None else None, headers)


def upserted(state: State, req: Request, result: tuple[dict[str, Any], Operation, bool]) -> Response:
    """A long-running create-or-update: 201 with the body when it created, 200 when it updated (ARM's PUT)."""
    body, op, is_new = result
    return accepted(state, req, op, status=201 if is_new else 200, body=body)


def deleting(state: State, req: Request, op: Operation) -> Response:
    """A long-running delete or action: 202 with a Location to poll, as ARM answers it."""
    return accepted(state, req, op, async_header=False, location_header=True)


def operation_status(state: State, req: Request) -> Response:
    op = _find(state, req)
    lro.poll(state, op)
    body: dict[str, Any] = {"id": req.path, "name": op.id, "status": op.status, "startTime": op.started}
    if op.ended:
        body["endTime"] = op.ended
    if op.error is not None:
        body["error"] = op.error.envelope()["error"]
    return Response(200, body, {"retry-after-ms": str(lro.retry_after_ms(state, op))})


def operation_result(state: State, req: Request) -> Response:
    op = _find(state, req)
    lro.poll(state, op)
    if op.status == "InProgress":
        return Response(202, None, {"Location": req.url(req.path, **req.query), "retry-after-ms": str(lro.retry_after_ms(state, op))})
    if op.error is not None:
        raise op.error
    if isinstance(op.result, dict):
        return Response(200, public(op.result))
    return Response(204)


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
