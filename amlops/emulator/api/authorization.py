"""Handlers for Microsoft.Authorization (role assignments and definitions, locks, permissions) and
Azure Policy (assignments, definitions, Microsoft.PolicyInsights/checkPolicyRestrictions)."""

from __future__ import annotations

from amlops.emulator.api.common import created, page
from amlops.emulator.http import Request, Response, ok
from amlops.emulator.models import authz, locks, policy, roles
from amlops.emulator.models import resources as resource_models
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


def get_role_definition(state: State, req: Request) -> Response:
    return ok(authz.role_definition(state, f"{_scope(req).rstrip('/')}{authz.DEFINITION_SEGMENT}{req.params['name']}"))


def list_permissions(state: State, req: Request) -> Response:
    return ok({"value": authz.permissions(state, _scope(req))})


def put_lock(state: State, req: Request) -> Response:
    return created(*locks.put_lock(state, _scope(req), req.params["name"], req.body or {}))


def get_lock(state: State, req: Request) -> Response:
    return ok(locks.get_lock(state, _scope(req), req.params["name"]))


def delete_lock(state: State, req: Request) -> Response:
    return Response(200 if locks.delete_lock(state, _scope(req), req.params["name"]) else 204)


def list_locks(state: State, req: Request) -> Response:
    at_scope = "atscope()" in req.query.get("$filter", "").lower()
    return page(state, req, locks.list_at(state, _scope(req), at_scope_only=at_scope))


def check_policy_restrictions(state: State, req: Request) -> Response:
    return ok(policy.check_restrictions(state, _scope(req), req.body or {}))


def list_policy_assignments(state: State, req: Request) -> Response:
    parts = _scope(req).strip("/").split("/")
    if len(parts) >= 4 and parts[2].lower() == "resourcegroups":  # ARM answers 404 ResourceGroupNotFound under a missing group
        resource_models.get_group(state, parts[1], parts[3])
    at_scope = "atscope()" in req.query.get("$filter", "").lower()
    return page(state, req, policy.list_assignments(state, _scope(req), at_scope_only=at_scope))


def get_policy_definition(state: State, req: Request) -> Response:
    return ok(policy.get_definition(state, req.path))


def get_policy_set_definition(state: State, req: Request) -> Response:
    return ok(policy.get_set_definition(state, req.path))


def directory_objects_by_ids(state: State, req: Request) -> Response:
    return ok(authz.directory_objects(state, req.body or {}))
