"""Role assignments at a scope (Microsoft.Authorization, through the ARM client's pipeline)."""

from __future__ import annotations

from typing import Any

from amlops.azure import rest
from amlops.azure.clients import Clients
from amlops.azure.retry import Kind
from amlops.errors import Conflict, InvalidInput, NotFound
from amlops.models import RoleAssignment, assignment_name, same_id

SEGMENT = "/providers/Microsoft.Authorization/roleAssignments"


def to_assignment(body: dict[str, Any]) -> RoleAssignment:
    props = body.get("properties") or {}
    return RoleAssignment(
        name=body["name"],
        scope=props.get("scope", ""),
        role_definition_id=props.get("roleDefinitionId", ""),
        principal_id=props.get("principalId", ""),
        principal_type=props.get("principalType") or "User",
        description=props.get("description") or "",
        condition=props.get("condition"),
        condition_version=props.get("conditionVersion"),
    )


def list_at_scope(clients: Clients, scope: str) -> list[RoleAssignment]:
    """Assignments made exactly at this scope (not inherited from above, not below)."""
    subscription = scope.split("/")[2]
    found = rest.pages(clients, subscription, scope.rstrip("/") + SEGMENT, rest.AUTH_API, {"$filter": "atScope()"})
    return [a for a in map(to_assignment, found) if same_id(a.scope, scope)]


def create(clients: Clients, scope: str, grant: RoleAssignment) -> RoleAssignment:
    """Grant ``grant``'s role to its principal at ``scope``; an existing identical grant is success."""
    name = assignment_name(scope, grant.role_definition_id, grant.principal_id)
    body = {
        "properties": {
            "roleDefinitionId": grant.role_definition_id,
            "principalId": grant.principal_id,
            "principalType": grant.principal_type,
            "description": grant.description,
        }
    }
    if grant.condition:
        body["properties"].update({"condition": grant.condition, "conditionVersion": grant.condition_version or "2.0"})
    subscription = scope.split("/")[2]
    try:
        created = rest.send(clients, subscription, "PUT", f"{scope.rstrip('/')}{SEGMENT}/{name}", rest.AUTH_API, body, kind=Kind.WRITE)
    except Conflict as err:
        if err.code != "RoleAssignmentExists":
            raise
        return next(a for a in list_at_scope(clients, scope) if a.key() == grant.key())
    return to_assignment(created)


def delete(clients: Clients, scope: str, name: str) -> None:
    subscription = scope.split("/")[2]
    rest.send(clients, subscription, "DELETE", f"{scope.rstrip('/')}{SEGMENT}/{name}", rest.AUTH_API, kind=Kind.WRITE)


def definition_exists(clients: Clients, subscription: str, guid: str) -> bool:
    """Whether a role definition GUID resolves in a subscription (built-in roles do everywhere; custom roles
    only within their assignableScopes). ARM answers 404, or 400 RoleDefinitionDoesNotExist, when it does not."""
    path = f"/subscriptions/{subscription}/providers/Microsoft.Authorization/roleDefinitions/{guid}"
    try:
        rest.send(clients, subscription, "GET", path, rest.AUTH_API)
    except NotFound:
        return False
    except InvalidInput as err:
        if err.code in ("RoleDefinitionDoesNotExist", "InvalidRoleDefinitionId"):
            return False
        raise
    return True
