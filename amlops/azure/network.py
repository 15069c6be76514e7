"""Private endpoint connections of a workspace."""

from __future__ import annotations

from typing import Any

from amlops.azure import rest
from amlops.azure.clients import Clients
from amlops.azure.retry import Kind
from amlops.models import PrivateEndpointConnection, ResourceId


def to_connection(body: dict[str, Any]) -> PrivateEndpointConnection:
    props = body.get("properties") or {}
    state = props.get("privateLinkServiceConnectionState") or {}
    return PrivateEndpointConnection(
        name=body["name"],
        id=body["id"],
        private_endpoint_id=(props.get("privateEndpoint") or {}).get("id", ""),
        status=state.get("status", ""),
        description=state.get("description") or "",
    )


CONNECTIONS = rest.Collection("privateEndpointConnections", to_connection)


def list_connections(clients: Clients, workspace: ResourceId) -> list[PrivateEndpointConnection]:
    return CONNECTIONS.list(clients, workspace)


def get_connection(clients: Clients, workspace: ResourceId, name: str) -> PrivateEndpointConnection:
    return CONNECTIONS.get(clients, workspace, name)


def set_connection_status(clients: Clients, workspace: ResourceId, name: str, status: str, description: str) -> PrivateEndpointConnection:
    """Approve or reject a connection (status Approved or Rejected)."""
    body = {"properties": {"privateLinkServiceConnectionState": {"status": status, "description": description}}}
    return to_connection(rest.send(clients, workspace.subscription, "PUT", CONNECTIONS.path(workspace, name), rest.ML_API, body, kind=Kind.WRITE))
