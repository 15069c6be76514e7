"""Azure ML workspaces and the assets that move with them."""

from __future__ import annotations

from typing import Any

from amlops.azure import operations, rest
from amlops.azure.clients import Clients
from amlops.azure.errors import azure_errors
from amlops.azure.retry import Kind
from amlops.errors import InvalidInput, NotFound
from amlops.models import ResourceId, Workspace

ASSET_KINDS = ("environments", "models", "data")


def _workspace(body: dict[str, Any]) -> Workspace:
    props = body.get("properties") or {}
    rid = ResourceId.parse(body["id"])
    return Workspace(
        id=body["id"],
        name=body["name"],
        location=body.get("location", ""),
        subscription=rid.subscription,
        resource_group=rid.resource_group,
        tenant_id=(body.get("identity") or {}).get("tenantId", ""),
        description=props.get("description") or "",
        storage_account=props.get("storageAccount"),
        key_vault=props.get("keyVault"),
        container_registry=props.get("containerRegistry"),
        application_insights=props.get("applicationInsights"),
        customer_managed_key=((props.get("encryption") or {}).get("status") or "").lower() == "enabled",
        public_network_access=props.get("publicNetworkAccess") or "Enabled",
        tags=body.get("tags") or {},
    )


def get_workspace(clients: Clients, workspace: ResourceId) -> Workspace:
    """The workspace as ARM describes it, including its encryption settings."""
    return _workspace(rest.get_by_id(clients, str(workspace.require_workspace()), rest.ML_API))


def list_workspaces(clients: Clients, subscription: str, resource_group: str | None = None) -> list[Workspace]:
    scope = f"/subscriptions/{subscription}" + (f"/resourceGroups/{resource_group}" if resource_group else "")
    path = scope + "/providers/Microsoft.MachineLearningServices/workspaces"
    return [_workspace(b) for b in rest.pages(clients, subscription, path, rest.ML_API)]


def create_workspace(clients: Clients, workspace: ResourceId, location: str, properties: dict[str, Any] | None = None, tags: dict[str, str] | None = None) -> Workspace:
    body = {"location": location, "properties": properties or {}, "tags": tags or {}, "identity": {"type": "SystemAssigned"}}
    operations.put(clients, str(workspace.require_workspace()), rest.ML_API, body)
    return get_workspace(clients, workspace)


def update_workspace(clients: Clients, workspace: ResourceId, description: str | None = None, tags: dict[str, str] | None = None) -> Workspace:
    body: dict[str, Any] = {"properties": {}}
    if description is not None:
        body["properties"]["description"] = description
    if tags is not None:
        body["tags"] = tags
    rest.send(clients, workspace.subscription, "PATCH", str(workspace.require_workspace()), rest.ML_API, body, kind=Kind.WRITE)  # the same fields set twice
    return get_workspace(clients, workspace)


def delete_workspace(clients: Clients, workspace: ResourceId) -> None:
    operations.delete(clients, str(workspace.require_workspace()), rest.ML_API)


def environment_exists(clients: Clients, workspace: ResourceId, reference: str) -> bool:
    """Whether ``azureml:<name>:<version>`` (or ``<name>:<version>``) is registered in the workspace."""
    name, _, version = reference.removeprefix("azureml:").partition(":")
    if not name or not version:
        raise InvalidInput(f"Environment {reference!r} must be azureml:<name>:<version>.")
    path = rest.child_path(workspace, "environments", name) + f"/versions/{version}"
    try:
        rest.send(clients, workspace.subscription, "GET", path, rest.ML_API)
    except NotFound:
        return False
    return True


def list_asset_names(clients: Clients, workspace: ResourceId) -> dict[str, list[str]]:
    """Names of the environments, models and data assets: what a move must carry along (through MLClient)."""
    ml = clients.ml(workspace.subscription, workspace.resource_group, workspace.name)
    with azure_errors(Kind.READ):
        return {
            "environments": sorted(e.name for e in ml.environments.list()),
            "models": sorted(m.name for m in ml.models.list()),
            "data": sorted(d.name for d in ml.data.list()),
        }
