"""Private endpoint connections on a workspace."""

from __future__ import annotations

from typing import Any

from amlops.emulator.errors import bad_request
from amlops.emulator.models.common import (
    WORKSPACE_TYPE,
    arm_body,
    get_child,
    list_children,
    require_child,
    writable_child,
)
from amlops.emulator.state import State

SEGMENT = "privateEndpointConnections"
STATUSES = {"Approved", "Rejected", "Pending", "Disconnected"}


def connection_id(workspace_id: str, name: str) -> str:
    return f"{workspace_id}/{SEGMENT}/{name}"


def new_connection(state: State, workspace_id: str, name: str, endpoint_id: str, status: str, message: str = "") -> dict[str, Any]:
    props = {
        "privateEndpoint": {"id": endpoint_id},
        "privateLinkServiceConnectionState": {"status": status, "description": message, "actionsRequired": "None"},
        "provisioningState": "Succeeded",
    }
    return state.store.put(arm_body(state, connection_id(workspace_id, name), f"{WORKSPACE_TYPE}/{SEGMENT}", props))


def put_connection(state: State, workspace_id: str, name: str, body: dict[str, Any]) -> dict[str, Any]:
    workspace, cid = writable_child(state, workspace_id, SEGMENT, name)
    existing = require_child(state, cid, "Private endpoint connection")
    wanted = (((body or {}).get("properties") or {}).get("privateLinkServiceConnectionState") or {})
    status = wanted.get("status")
    if status not in STATUSES:
        raise bad_request(f"privateLinkServiceConnectionState.status must be one of {sorted(STATUSES)}.", "InvalidConnectionState")
    current = existing["properties"]["privateLinkServiceConnectionState"]["status"]
    if current == "Disconnected" and status != "Disconnected":
        raise bad_request(f"Connection '{name}' is Disconnected; its private endpoint must be re-created, not re-approved.", "ConnectionDisconnected")
    existing["properties"]["privateLinkServiceConnectionState"].update(
        {"status": status, "description": wanted.get("description", ""), "actionsRequired": "None"}
    )
    existing["systemData"]["lastModifiedAt"] = state.clock.iso()
    return existing


def get_connection(state: State, workspace_id: str, name: str) -> dict[str, Any]:
    return get_child(state, workspace_id, SEGMENT, name, "Private endpoint connection")


def list_connections(state: State, workspace_id: str) -> list[dict[str, Any]]:
    return list_children(state, workspace_id, SEGMENT)


def delete_connection(state: State, workspace_id: str, name: str) -> bool:
    _, cid = writable_child(state, workspace_id, SEGMENT, name)
    return state.store.delete(cid) is not None
