"""Handlers for Microsoft.Resources: groups, providers, generic resources, moves."""

from __future__ import annotations

from amlops.emulator.api.common import created, deleting, fault_error, group_id, page
from amlops.emulator.errors import ArmError
from amlops.emulator.http import Request, Response, ok
from amlops.emulator.models import moves, resources
from amlops.emulator.state import State


def put_group(state: State, req: Request) -> Response:
    return created(*resources.put_group(state, req.params["sub"], req.params["rg"], req.body or {}))


def get_group(state: State, req: Request) -> Response:
    return ok(resources.get_group(state, req.params["sub"], req.params["rg"]))


def head_group(state: State, req: Request) -> Response:
    try:
        resources.get_group(state, req.params["sub"], req.params["rg"])
    except ArmError as err:
        if err.status == 404:
            return Response(404)
        raise
    return Response(204)


def delete_group(state: State, req: Request) -> Response:
    return deleting(state, req, resources.delete_group(state, req.params["sub"], req.params["rg"]))


def list_groups(state: State, req: Request) -> Response:
    state.subscription(req.params["sub"])
    prefix = f"/subscriptions/{req.params['sub']}/resourcegroups/"
    groups = [b for b in state.store if b["type"] == resources.RG_TYPE and b["id"].lower().startswith(prefix)]
    return page(state, req, groups)


def get_subscription(state: State, req: Request) -> Response:
    sub = state.subscription(req.params["sub"])
    return ok({
        "id": f"/subscriptions/{sub.id}",
        "subscriptionId": sub.id,
        "tenantId": sub.tenant_id,
        "displayName": f"Emulated subscription {sub.id[:8]}",
        "state": "Enabled",
    })


def get_provider(state: State, req: Request) -> Response:
    return ok(resources.provider_body(state, req.params["sub"], req.params["ns"]))


def register_provider(state: State, req: Request) -> Response:
    return ok(resources.register_provider(state, req.params["sub"], req.params["ns"]))


def list_providers(state: State, req: Request) -> Response:
    return page(state, req, resources.list_providers(state, req.params["sub"]))


def list_resources(state: State, req: Request) -> Response:
    state.subscription(req.params["sub"])
    if "rg" in req.params:  # a group that does not exist has no list: 404 ResourceGroupNotFound, as ARM answers
        # ("Resolve errors for resource not found", azure-resource-manager/troubleshooting/error-not-found)
        resources.get_group(state, req.params["sub"], req.params["rg"])
    scope = group_id(req) if "rg" in req.params else f"/subscriptions/{req.params['sub']}"
    rtype = resources.parse_type_filter(req.query.get("$filter"))
    return page(state, req, resources.list_resources(state, scope, rtype))


def get_resource(state: State, req: Request) -> Response:
    return ok(resources.get_resource(state, req.path))


# How a resource provider answers the PUT that creates a resource, where a recording shows it (status, Location naming
# the resource): Microsoft.ManagedIdentity 201 with Location (move_validate_refused.json, a user-assigned identity);
# Microsoft.Compute 200 with neither (move_resources_succeeded.json, an availability set). Others: ARM's 201.
CREATE_ANSWERS = {"microsoft.managedidentity": (201, True), "microsoft.compute": (200, False)}


def put_resource(state: State, req: Request) -> Response:
    body, is_new = resources.put_resource(state, req.path, req.body or {})
    answer = created(body, is_new)
    if is_new:
        status, location = CREATE_ANSWERS.get(req.path.lower().split("/providers/", 1)[-1].split("/", 1)[0], (201, False))
        answer.status = status
        if location:
            answer.headers["Location"] = body["id"]
    return answer


def delete_resource(state: State, req: Request) -> Response:
    return Response(200 if resources.delete_resource(state, req.path) else 204)


def validate_move(state: State, req: Request) -> Response:
    resources.get_group(state, req.params["sub"], req.params["rg"])
    return deleting(state, req, moves.validate(state, group_id(req), req.body or {}))


def move(state: State, req: Request) -> Response:
    resources.get_group(state, req.params["sub"], req.params["rg"])
    return deleting(state, req, moves.move(state, group_id(req), req.body or {}, fault_error(req)))
