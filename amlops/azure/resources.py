"""Resource groups, provider registrations and generic resources (azure-mgmt-resource)."""

from __future__ import annotations

from typing import Any

from amlops.azure import rest
from amlops.azure.clients import Clients
from amlops.azure.errors import azure_errors
from amlops.azure.retry import Kind
from amlops.errors import NotFound
from amlops.models import ProviderState, ResourceGroup, check_resource_group, check_subscription

SUBSCRIPTIONS_API = "2022-12-01"
DATABRICKS_API = "2024-05-01"


def subscription_tenant(clients: Clients, subscription: str) -> str:
    """The Microsoft Entra tenant a subscription belongs to."""
    check_subscription(subscription)
    return rest.send(clients, subscription, "GET", f"/subscriptions/{subscription}", SUBSCRIPTIONS_API)["tenantId"]


def databricks_links(clients: Clients, subscription: str, workspace_id: str) -> list[str]:
    """Azure Databricks workspaces linked to an Azure ML workspace (their amlWorkspaceId parameter names it)."""
    linked = []
    for db_id in list_resources_of_type(clients, subscription, "Microsoft.Databricks/workspaces"):
        params = (get_raw(clients, db_id, DATABRICKS_API).get("properties") or {}).get("parameters") or {}
        if ((params.get("amlWorkspaceId") or {}).get("value") or "").lower() == workspace_id.lower():
            linked.append(db_id)
    return linked


def get_resource_group(clients: Clients, subscription: str, name: str) -> ResourceGroup | None:
    """The resource group, or None when it does not exist."""
    check_subscription(subscription)
    check_resource_group(name)
    try:
        with azure_errors(Kind.READ):
            group = clients.arm(subscription).resource_groups.get(name)
    except NotFound as err:
        if err.code == "ResourceGroupNotFound":
            return None
        raise  # SubscriptionNotFound and the like are not "absent"
    return ResourceGroup(id=group.id, name=group.name, location=group.location)


def ensure_resource_group(clients: Clients, subscription: str, name: str, location: str, tags: dict[str, str] | None = None) -> ResourceGroup:
    """Create the resource group if absent (idempotent: PUT with the same location is a no-op)."""
    existing = get_resource_group(clients, subscription, name)
    if existing is not None:
        return existing
    with azure_errors(Kind.WRITE):
        group = clients.arm(subscription).resource_groups.create_or_update(name, {"location": location, "tags": tags or {}})
    return ResourceGroup(id=group.id, name=group.name, location=group.location)


def delete_resource_group(clients: Clients, subscription: str, name: str) -> None:
    with azure_errors(Kind.WRITE):
        clients.arm(subscription).resource_groups.begin_delete(name).result()


def provider_states(clients: Clients, subscription: str, namespaces: list[str]) -> list[ProviderState]:
    check_subscription(subscription)
    with azure_errors(Kind.READ):
        providers = clients.arm(subscription).providers
        return [ProviderState(namespace=ns, registration_state=providers.get(ns).registration_state or "NotRegistered") for ns in namespaces]


def register_provider(clients: Clients, subscription: str, namespace: str) -> ProviderState:
    with azure_errors(Kind.WRITE):  # registering a registered provider changes nothing
        provider = clients.arm(subscription).providers.register(namespace)
    return ProviderState(namespace=provider.namespace, registration_state=provider.registration_state)


def list_resources_of_type(clients: Clients, subscription: str, resource_type: str) -> list[str]:
    """Ids of the subscription's resources of one type."""
    with azure_errors(Kind.READ):
        return [r.id for r in clients.arm(subscription).resources.list(filter=f"resourceType eq '{resource_type}'")]


def get_raw(clients: Clients, resource_id: str, api_version: str) -> dict[str, Any]:
    """A resource's body exactly as ARM returns it."""
    return rest.get_by_id(clients, resource_id, api_version)


def exists(clients: Clients, resource_id: str, api_version: str) -> bool:
    try:
        rest.get_by_id(clients, resource_id, api_version)
    except NotFound:
        return False
    return True


def list_group_resources(clients: Clients, subscription: str, resource_group: str) -> list[str]:
    """Ids of the top-level resources in a resource group."""
    with azure_errors(Kind.READ):
        return [r.id for r in clients.arm(subscription).resources.list_by_resource_group(resource_group)]
