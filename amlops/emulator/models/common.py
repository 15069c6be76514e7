"""Helpers every provider model shares: body shape, write locks, parent checks."""

from __future__ import annotations

import copy
from typing import Any

from amlops.emulator import ids, lro
from amlops.emulator.errors import ArmError, not_found
from amlops.emulator.state import Operation, State

ML = "Microsoft.MachineLearningServices"
WORKSPACE_TYPE = f"{ML}/workspaces"


def system_data(state: State, created_at: str | None = None) -> dict[str, Any]:
    now = state.clock.iso()
    return {
        "createdAt": created_at or now,
        "createdBy": "amlops-emulator",
        "createdByType": "Application",
        "lastModifiedAt": now,
        "lastModifiedBy": "amlops-emulator",
        "lastModifiedByType": "Application",
    }


def arm_body(
    state: State,
    resource_id: str,
    resource_type: str,
    properties: dict[str, Any],
    *,
    location: str | None = None,
    tags: dict[str, str] | None = None,
    previous: dict[str, Any] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": resource_id,
        "name": ids.name_of(resource_id),
        "type": resource_type,
        "properties": copy.deepcopy(properties),
    }
    if location is not None:
        body["location"] = location
    if tags is not None:
        body["tags"] = dict(tags)
    created = (previous or {}).get("systemData", {}).get("createdAt")
    body["systemData"] = system_data(state, created)
    body.update(copy.deepcopy(extra))
    return body


def ensure_writable(state: State, resource_id: str) -> None:
    """ARM locks the source and target resource groups while a move runs."""
    rg = ids.resource_group_id(resource_id)
    if rg and ids.key(rg) in state.locked_groups:
        raise ArmError(
            409,
            "ScopeLocked",
            f"The scope '{resource_id}' cannot perform write operation because the resource group "
            f"'{rg}' is locked: {state.locked_groups[ids.key(rg)]}. Try again when it finishes.",
        )


def require_group(state: State, resource_id: str) -> dict[str, Any]:
    sub = ids.subscription_of(resource_id)
    if sub:
        state.subscription(sub)
    rg = ids.resource_group_id(resource_id)
    if rg is None:
        raise ArmError(400, "InvalidResourceId", f"'{resource_id}' names no resource group.")
    body = state.store.get(rg)
    if body is None:
        raise not_found(ids.name_of(rg), "ResourceGroup")
    return body


def require_workspace(state: State, workspace_id: str) -> dict[str, Any]:
    require_group(state, workspace_id)
    body = state.store.get(workspace_id)
    if body is None:
        raise ArmError(
            404,
            "ResourceNotFound",
            f"The Resource '{WORKSPACE_TYPE}/{ids.name_of(workspace_id)}' under resource group "
            f"'{ids.name_of(ids.resource_group_id(workspace_id) or '')}' was not found.",
        )
    return body


def require_child(state: State, resource_id: str, what: str) -> dict[str, Any]:
    body = state.store.get(resource_id)
    if body is None:
        raise ArmError(404, "ResourceNotFound", f"{what} '{ids.name_of(resource_id)}' was not found in '{resource_id.rsplit('/', 2)[0]}'.")
    return body


# A workspace's child resources ({workspace}/computes/{name}, .../jobs/{name}, ...): every read and write
# first needs the workspace itself (ARM answers 404 for the parent before the child), and a write needs
# its resource group unlocked.


def child_id(workspace_id: str, segment: str, name: str) -> str:
    return f"{workspace_id}/{segment}/{name}"


def get_child(state: State, workspace_id: str, segment: str, name: str, what: str) -> dict[str, Any]:
    require_workspace(state, workspace_id)
    return require_child(state, child_id(workspace_id, segment, name), what)


def list_children(state: State, workspace_id: str, segment: str) -> list[dict[str, Any]]:
    workspace = require_workspace(state, workspace_id)
    return state.store.children(workspace["id"], segment)


def writable_child(state: State, workspace_id: str, segment: str, name: str) -> tuple[dict[str, Any], str]:
    """The workspace, and the id of its child about to be written (as the workspace spells it)."""
    workspace = require_workspace(state, workspace_id)
    cid = child_id(workspace["id"], segment, name)
    ensure_writable(state, cid)
    return workspace, cid


def public(body: dict[str, Any]) -> dict[str, Any]:
    """A copy safe to hand to a client: handlers must never leak the stored object."""
    return copy.deepcopy(body)


def provision(state: State, resource: dict[str, Any], kind: str, location: str) -> Operation:
    """Store a resource being created and start the long-running operation that ends it Succeeded."""
    state.store.put(resource)

    def complete() -> dict[str, Any]:
        resource["properties"]["provisioningState"] = "Succeeded"
        return resource

    return lro.start(state, kind, ids.subscription_of(resource["id"]) or "", complete, location=location, key=resource["id"])
