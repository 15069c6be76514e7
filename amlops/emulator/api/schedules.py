"""Handlers for Azure ML job schedules."""

from __future__ import annotations

from amlops.emulator.api.common import page, upserted, workspace_id
from amlops.emulator.http import Request, Response, ok
from amlops.emulator.models import schedules
from amlops.emulator.state import State


def put_schedule(state: State, req: Request) -> Response:
    return upserted(state, req, schedules.put_schedule(state, workspace_id(req), req.params["name"], req.body or {}))


def get_schedule(state: State, req: Request) -> Response:
    return ok(schedules.get_schedule(state, workspace_id(req), req.params["name"]))


def list_schedules(state: State, req: Request) -> Response:
    return page(state, req, schedules.list_schedules(state, workspace_id(req), req.query.get("listViewType", "EnabledOnly")))


def delete_schedule(state: State, req: Request) -> Response:
    return Response(200 if schedules.delete_schedule(state, workspace_id(req), req.params["name"]) else 204)
