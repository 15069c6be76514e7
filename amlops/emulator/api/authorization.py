"""Handlers for Microsoft.Authorization role assignments and management locks."""

from __future__ import annotations

from amlops.emulator.api.common import created, page
from amlops.emulator.http import Request, Response, ok
from amlops.emulator.models import locks, roles
from amlops.emulator.models.common import public
from amlops.emulator.state import State


def _scope(req: Request) -> str:
    return "/" + req.params["scope"].strip("/")


def put_assignment(state: State, req: Request) -> Response:
    return created(*roles.put_assignment(state, _scope(req), req.params["name"], req.body or {}))


def get_assignment(state: State, req: Request) -> Response:
    return ok(roles.get_assignment(state, _scope(req), req.params["name"]))


def delete_assignment(state: State, req: Request) -> Response:
    deleted = roles.delete_assignment(state, _scope(req), req.params["name"])
    return Response(200, public(deleted)) if deleted else Response(204)


def list_assignments(state: State, req: Request) -> Response:
    at_scope = "atscope()" in req.query.get("$filter", "").lower()
    return page(state, req, roles.list_at(state, _scope(req), at_scope_only=at_scope))


def list_locks(state: State, req: Request) -> Response:
    at_scope = "atscope()" in req.query.get("$filter", "").lower()
    return page(state, req, locks.list_at(state, _scope(req), at_scope_only=at_scope))
