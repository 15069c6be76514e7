"""Handlers for Azure ML job schedules."""

from __future__ import annotations

from amlops.emulator.api.common import accepted, page, workspace_id
from amlops.emulator.http import Request, Response, ok
from amlops.emulator.models import schedules
from amlops.emulator.state import State


def put_schedule(state: State, req: Request) -> Response:
    """201 on every PUT, a new schedule's or an update's (isEnabled flipped too), with Azure-AsyncOperation, Location
    (the schedule itself) and x-ms-async-operation-timeout PT30M (schedule_create_update_disable.json)."""
    body, op, _ = schedules.put_schedule(state, workspace_id(req), req.params["name"], req.body or {})
    return accepted(state, req, op, status=201, body=body, location=body["id"], timeout="PT30M")


def get_schedule(state: State, req: Request) -> Response:
    return ok(schedules.get_schedule(state, workspace_id(req), req.params["name"]))


def list_schedules(state: State, req: Request) -> Response:
    return page(state, req, schedules.list_schedules(state, workspace_id(req), req.query.get("listViewType", "EnabledOnly")))


def delete_schedule(state: State, req: Request) -> Response:
    return Response(200 if schedules.delete_schedule(state, workspace_id(req), req.params["name"]) else 204)
