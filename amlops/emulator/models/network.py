"""Private endpoint connections on a workspace."""

from __future__ import annotations

from typing import Any

from amlops.emulator.errors import bad_request
from amlops.emulator.models.common import WORKSPACE_TYPE, arm_body, ensure_writable, require_child, require_workspace
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
    workspace = require_workspace(state, workspace_id)
    cid = connection_id(workspace["id"], name)
    ensure_writable(state, cid)
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
    require_workspace(state, workspace_id)
    return require_child(state, connection_id(workspace_id, name), "Private endpoint connection")


def list_connections(state: State, workspace_id: str) -> list[dict[str, Any]]:
    workspace = require_workspace(state, workspace_id)
    return state.store.children(workspace["id"], SEGMENT)


def delete_connection(state: State, workspace_id: str, name: str) -> bool:
    require_workspace(state, workspace_id)
    cid = connection_id(workspace_id, name)
    ensure_writable(state, cid)
    return state.store.delete(cid) is not None
