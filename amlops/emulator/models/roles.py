"""Microsoft.Authorization role assignments at any scope."""

from __future__ import annotations

from typing import Any

from amlops.emulator import ids
from amlops.emulator.errors import ArmError, bad_request
from amlops.emulator.models import authz
from amlops.emulator.models.extension import ExtensionKind
from amlops.emulator.state import State

KIND = ExtensionKind("Microsoft.Authorization/roleAssignments", not_found="RoleAssignmentNotFound")
TYPE, SEGMENT = KIND.type, KIND.segment


def put_assignment(state: State, scope: str, name: str, body: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    if not ids.GUID_RE.match(name):
        raise bad_request(f"The role assignment name '{name}' must be a GUID.", "InvalidRoleAssignmentId")
    props = (body or {}).get("properties") or {}
    for needed in ("roleDefinitionId", "principalId"):
        if not props.get(needed):
            raise bad_request(f"A role assignment needs properties.{needed}.", "InvalidRoleAssignmentRequest")
    KIND.require_scope(state, scope, "ScopeNotFound", f"The scope '{scope}' does not exist.")
    authz.check_assignment(state, scope, props["roleDefinitionId"], props["principalId"])
    rid = KIND.id(scope, name)
    for other in list_at(state, scope, at_scope_only=True):
        same = (other["properties"]["principalId"], other["properties"]["roleDefinitionId"].lower(), ids.key(other["properties"]["scope"]))
        if same == (props["principalId"], props["roleDefinitionId"].lower(), ids.key(scope)) and ids.key(other["id"]) != ids.key(rid):
            raise ArmError(409, "RoleAssignmentExists", "The role assignment already exists.")
    properties: dict[str, Any] = {
        "roleDefinitionId": props["roleDefinitionId"],
        "principalId": props["principalId"],
        "principalType": props.get("principalType", "User"),
        "scope": scope,
        "description": props.get("description", ""),
        "createdOn": state.clock.iso(),
    }
    if props.get("condition"):
        # ABAC conditions (RoleAssignments spec 2022-04-01): conditionVersion "2.0" is the only version ARM accepts.
        version = props.get("conditionVersion") or "2.0"
        if version != "2.0":
            raise bad_request(f"conditionVersion '{version}' is not supported; use '2.0'.", "InvalidConditionVersion")
        properties.update({"condition": props["condition"], "conditionVersion": version})
    return KIND.put(state, scope, name, properties)


def get_assignment(state: State, scope: str, name: str) -> dict[str, Any]:
    return KIND.get(state, scope, name, f"The role assignment '{name}' is not found.")


def delete_assignment(state: State, scope: str, name: str) -> dict[str, Any] | None:
    return KIND.delete(state, scope, name)


def list_at(state: State, scope: str, at_scope_only: bool = False) -> list[dict[str, Any]]:
    """Assignments at the scope and above it; and below it, unless ``atScope()`` was asked."""
    return KIND.list_at(state, scope, at_scope_only, lambda b: str(b["properties"]["scope"]))
