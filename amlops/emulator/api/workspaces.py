"""Handlers for Azure ML workspaces, their keys and the assets that move with them."""

from __future__ import annotations

from amlops.emulator.api.common import accepted, group_id, page, workspace_id
from amlops.emulator.http import Request, Response, ok
from amlops.emulator.models import workspaces
from amlops.emulator.state import State


def put_workspace(state: State, req: Request) -> Response:
    body, op = workspaces.put_workspace(state, workspace_id(req), req.body or {})
    return accepted(state, req, op, status=201, body=workspaces.get_workspace(state, body["id"]))


def get_workspace(state: State, req: Request) -> Response:
    return ok(workspaces.get_workspace(state, workspace_id(req)))


def patch_workspace(state: State, req: Request) -> Response:
    return ok(workspaces.patch_workspace(state, workspace_id(req), req.body or {}))


def delete_workspace(state: State, req: Request) -> Response:
    """202 with Azure-AsyncOperation and Location, both .../workspaceOperationsStatus/{id}, no Retry-After; the operation
    reads {"status": "InProgress"} (workspace_delete.json)."""
    return accepted(state, req, workspaces.delete_workspace(state, workspace_id(req)), location_header=True)


def list_workspaces_in_group(state: State, req: Request) -> Response:
    return page(state, req, workspaces.list_workspaces(state, group_id(req)))


def list_workspaces_in_subscription(state: State, req: Request) -> Response:
    state.subscription(req.params["sub"])
    return page(state, req, workspaces.list_workspaces(state, f"/subscriptions/{req.params['sub']}"))


def list_keys(state: State, req: Request) -> Response:
    return ok(workspaces.list_keys(state, workspace_id(req)))


def put_asset(state: State, req: Request) -> Response:
    return ok(workspaces.put_asset(state, req.path, req.body or {}))


def get_asset(state: State, req: Request) -> Response:
    workspaces.require_workspace(state, workspace_id(req))
    return ok(state.store.require(req.path))


def list_assets(state: State, req: Request) -> Response:
    workspaces.require_workspace(state, workspace_id(req))
    parent, segment = req.path.rstrip("/").rsplit("/", 1)
    return page(state, req, state.store.children(parent, segment))
