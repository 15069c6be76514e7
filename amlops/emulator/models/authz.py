"""Who the caller is allowed to be: denied actions, the permissions API, role definitions, principals.

- Actions are ARM operation names (``{Namespace}/{type}[/{type}...]/{read|write|delete}`` and
  ``.../{action}/action``), as "Azure resource provider operations" lists them (learn.microsoft.com/azure/
  role-based-access-control/resource-provider-operations). A scenario denies actions to the caller at a scope;
  ARM then answers 403 ``AuthorizationFailed`` worded as in "Troubleshoot Azure RBAC" (role-based-access-control/
  troubleshooting): "The client '...' with object id '...' does not have authorization to perform action '...'
  over scope '...' or the scope is invalid."
- ``GET {scope}/providers/Microsoft.Authorization/permissions`` (REST: Permissions - List For Resource Group /
  List For Resource, 2022-04-01) returns the caller's effective actions and notActions at the scope.
- Role definitions live per subscription: ``/subscriptions/{sub}/providers/Microsoft.Authorization/
  roleDefinitions/{guid}``. Built-in roles exist in every subscription under the same GUID; a custom role exists
  only where its assignableScopes reach (role-based-access-control/custom-roles). ARM refuses an assignment whose
  role definition does not resolve at the assignment's scope with 400 ``RoleDefinitionDoesNotExist``.
- A principal deleted from the directory cannot be granted a role: 400 ``PrincipalNotFound`` (troubleshooting:
  "Principal {id} does not exist in the directory {tenant}").
"""

from __future__ import annotations

import fnmatch
from typing import Any

from amlops.emulator import ids
from amlops.emulator.errors import ArmError
from amlops.emulator.state import State

CALLER = "0a0a0a0a-0000-0000-0000-00000000ca11"  # the object id the emulator's token stands for
DEFINITION_SEGMENT = "/providers/Microsoft.Authorization/roleDefinitions/"

# Names of some built-in roles (GUIDs from "Azure built-in roles", role-based-access-control/built-in-roles).
BUILT_IN_ROLES = {
    "8e3af657-a8ff-443c-a75c-2fe8c4bcb635": "Owner",
    "b24988ac-6180-42a0-ab88-20f7382dd24c": "Contributor",
    "acdd72a7-3385-48ef-bd42-f606fba81ae7": "Reader",
    "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9": "User Access Administrator",
    "f6c7c914-8db3-469d-8ca1-694a8f32e121": "AzureML Data Scientist",
    "e503ece1-11d0-4e8e-8e2c-7a6c3bf38815": "AzureML Compute Operator",
    "ba92f5b4-2d11-453d-a403-e96b0029c9fe": "Storage Blob Data Contributor",
    "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1": "Storage Blob Data Reader",
    "7f951dda-4ed3-4680-a7ca-43fe172d538d": "AcrPull",
    "8311e382-0749-4cb8-b61a-304f252e45ec": "AcrPush",
    "00482a5a-887f-4fb3-b363-3b7fe8e74483": "Key Vault Administrator",
    "4633458b-17de-408a-b874-0445c86b69e6": "Key Vault Secrets User",
}


def load(state: State, spec: dict[str, Any]) -> None:
    """Scenario keys: denied_actions [{scope, actions}], role_definitions [{name (GUID), roleName,
    assignableScopes}], deleted_principals [object ids], directory_read_denied (the caller lacks Directory.Read.All)."""
    state.denied_actions = [{"scope": d["scope"], "actions": list(d["actions"])} for d in spec.get("denied_actions", [])]
    state.role_definitions = {d["name"].lower(): dict(d) for d in spec.get("role_definitions", [])}
    state.deleted_principals = {p.lower() for p in spec.get("deleted_principals", [])}
    state.directory_read_denied = bool(spec.get("directory_read_denied", False))


def directory_objects(state: State, body: dict[str, Any]) -> dict[str, Any]:
    """Microsoft Graph ``POST /v1.0/directoryObjects/getByIds`` ("directoryObject: getByIds", Graph v1.0 reference):
    the directory objects among ``ids`` (at most 1000), deleted principals left out. Needs Directory.Read.All: without
    it Graph answers 403 Authorization_RequestDenied "Insufficient privileges to complete the operation.". The
    emulator keeps no directory: every id it was not told is deleted answers as a plain directoryObject."""
    if state.directory_read_denied:
        raise ArmError(403, "Authorization_RequestDenied", "Insufficient privileges to complete the operation.")
    wanted = (body or {}).get("ids")
    if not isinstance(wanted, list) or not wanted or len(wanted) > 1000:
        raise ArmError(400, "Request_BadRequest", "ids must list between 1 and 1000 object ids.")
    found = [{"@odata.type": "#microsoft.graph.directoryObject", "id": i} for i in wanted if str(i).lower() not in state.deleted_principals]
    return {"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#directoryObjects", "value": found}


def _applies(scope: str, at: str) -> bool:
    return ids.key(at) == ids.key(scope) or ids.is_under(at, scope)


def denied_at(state: State, scope: str) -> list[str]:
    """Actions denied to the caller at ``scope`` (by a denial at the scope or above it)."""
    return [a for d in state.denied_actions if _applies(d["scope"], scope) for a in d["actions"]]


def enforce(state: State, action: str, scope: str) -> None:
    if any(fnmatch.fnmatch(action.lower(), pattern.lower()) for pattern in denied_at(state, scope)):
        raise ArmError(
            403,
            "AuthorizationFailed",
            f"The client '{CALLER}' with object id '{CALLER}' does not have authorization to perform action "
            f"'{action}' over scope '{scope}' or the scope is invalid. If access was recently granted, please refresh "
            "your credentials.",
        )


def permissions(state: State, scope: str) -> list[dict[str, Any]]:
    """The caller's permissions at a scope, as the Permissions API returns them: Owner less what was denied."""
    return [{"actions": ["*"], "notActions": denied_at(state, scope), "dataActions": [], "notDataActions": []}]


def action_for(method: str, path: str) -> str:
    """The ARM operation a request performs, e.g. DELETE .../workspaces/w/computes/c ->
    Microsoft.MachineLearningServices/workspaces/computes/delete."""
    parts = [p for p in path.strip("/").split("/") if p]
    verb = {"GET": "read", "HEAD": "read", "PUT": "write", "PATCH": "write", "DELETE": "delete"}.get(method, "action")
    if "providers" not in [p.lower() for p in parts]:
        # /subscriptions/{s}[/resourceGroups/{g}[/{action}]]
        types = ["Microsoft.Resources", "subscriptions"] + (["resourceGroups"] if len(parts) >= 3 else [])
        if method == "POST" and len(parts) in (3, 5):
            return "/".join(types + [parts[-1], "action"])
        return "/".join(types + [verb])
    last = max(i for i, p in enumerate(parts) if p.lower() == "providers")
    tail = parts[last + 1 :]
    if not tail:  # /subscriptions/{s}/providers: the list of resource providers
        return f"Microsoft.Resources/subscriptions/providers/{verb}"
    namespace, rest = tail[0], tail[1:]
    types = rest[0::2]
    if method == "POST" and len(rest) % 2 == 1:  # .../{type}/{name}/{action}
        return "/".join([namespace, *rest[0:-1:2], rest[-1], "action"])
    return "/".join([namespace, *types, verb])


def role_definition(state: State, definition_id: str) -> dict[str, Any]:
    """The role definition a full id names, or ARM's refusal when it does not exist there."""
    sub = ids.subscription_of(definition_id)
    guid = definition_id.rstrip("/").rsplit("/", 1)[-1].lower()
    missing = ArmError(400, "RoleDefinitionDoesNotExist", f"The specified role definition with ID '{guid}' does not exist.")
    if DEFINITION_SEGMENT.lower() not in definition_id.lower() or not ids.GUID_RE.match(guid):
        raise ArmError(400, "InvalidRoleDefinitionId", f"The role definition ID '{definition_id}' is not valid.")
    scope = f"/subscriptions/{sub}" if sub else "/"
    custom = state.role_definitions.get(guid)
    if custom is None:
        # Azure has hundreds of built-in roles; a GUID no scenario declared as custom is taken as one of them.
        return _definition_body(scope, guid, BUILT_IN_ROLES.get(guid, guid), "BuiltInRole", ["/"])
    if sub and not any(_applies(s, scope) or _applies(scope, s) for s in custom.get("assignableScopes", [])):
        raise missing
    return _definition_body(scope, guid, custom.get("roleName", guid), "CustomRole", custom.get("assignableScopes", []))


def _definition_body(scope: str, guid: str, role_name: str, role_type: str, assignable: list[str]) -> dict[str, Any]:
    return {
        "id": f"{scope.rstrip('/')}{DEFINITION_SEGMENT}{guid}",
        "name": guid,
        "type": "Microsoft.Authorization/roleDefinitions",
        "properties": {"roleName": role_name, "type": role_type, "description": "", "assignableScopes": assignable, "permissions": []},
    }


def check_assignment(state: State, scope: str, definition_id: str, principal_id: str) -> None:
    """ARM's checks on a new role assignment: the role resolves in the scope's subscription; the principal exists."""
    definition = role_definition(state, definition_id)
    scope_sub = ids.subscription_of(scope)
    definition_sub = ids.subscription_of(definition_id)
    if scope_sub and definition_sub and scope_sub != definition_sub:
        # The role definition id names another subscription's copy: it does not resolve at this scope.
        raise ArmError(400, "RoleDefinitionDoesNotExist", f"The specified role definition with ID '{definition['name']}' does not exist in subscription '{scope_sub}'.")
    if principal_id.lower() in state.deleted_principals:
        tenant = state.subscription(scope_sub).tenant_id if scope_sub else ""
        raise ArmError(
            400,
            "PrincipalNotFound",
            f"Principal {principal_id} does not exist in the directory {tenant}. Check that you have the correct principal ID.",
        )
