"""Datastores. Secrets are read just in time and handed straight to the next request, never kept."""

from __future__ import annotations

import copy
from typing import Any

from amlops.azure import rest
from amlops.azure.clients import Clients
from amlops.azure.retry import Kind
from amlops.models import Datastore, ResourceId

SECRET_FIELDS = {"key", "sasToken", "clientSecret", "certificate", "password"}


def to_datastore(body: dict[str, Any]) -> Datastore:
    props = copy.deepcopy(body.get("properties") or {})
    credentials = props.get("credentials") or {}
    if "secrets" in credentials:  # keep the type only: a model never holds a secret
        credentials["secrets"] = {"secretsType": (credentials.get("secrets") or {}).get("secretsType")}
    props.pop("isDefault", None)
    return Datastore(
        name=body["name"],
        datastore_type=props.get("datastoreType", ""),
        is_default=bool((body.get("properties") or {}).get("isDefault")),
        account_name=props.get("accountName"),
        container_name=props.get("containerName"),
        file_share_name=props.get("fileShareName"),
        endpoint=props.get("endpoint"),
        protocol=props.get("protocol"),
        subscription_id=props.get("subscriptionId"),
        resource_group=props.get("resourceGroup"),
        credentials_type=credentials.get("credentialsType", "None"),
        description=props.get("description"),
        tags=props.get("tags") or {},
        properties=props,
    )


DATASTORES = rest.Collection("datastores", to_datastore)


def list_datastores(clients: Clients, workspace: ResourceId) -> list[Datastore]:
    return DATASTORES.list(clients, workspace)


def get_datastore(clients: Clients, workspace: ResourceId, name: str) -> Datastore:
    return DATASTORES.get(clients, workspace, name)


def register_datastore(clients: Clients, workspace: ResourceId, datastore: Datastore, secrets: dict[str, Any] | None = None) -> Datastore:
    """Create or update a registration in place (PUT), with secrets passed through, not stored."""
    props = copy.deepcopy(datastore.properties)
    if secrets:
        props.setdefault("credentials", {})["secrets"] = secrets
    body = {"properties": props}
    return to_datastore(rest.send(clients, workspace.subscription, "PUT", DATASTORES.path(workspace, datastore.name), rest.ML_API, body, kind=Kind.WRITE))


def repoint_datastore(clients: Clients, workspace: ResourceId, current: Datastore, subscription: str, resource_group: str) -> Datastore:
    """Point a registration at its storage account's new subscription and resource group, credentials intact.

    One PUT over the existing registration (``current``, as just listed): at no moment does the datastore
    or its secret exist nowhere. The secret is read and handed straight to the PUT.
    """
    secrets = read_secrets(clients, workspace, current.name) if current.credentials_type not in ("None", "") else None
    props = {**current.properties, "subscriptionId": subscription, "resourceGroup": resource_group}
    return register_datastore(clients, workspace, current.model_copy(update={"properties": props}), secrets)


def read_secrets(clients: Clients, workspace: ResourceId, name: str) -> dict[str, Any]:
    """listSecrets: the caller must pass the result on and drop it, never log or persist it."""
    return rest.send(clients, workspace.subscription, "POST", DATASTORES.path(workspace, name) + "/listSecrets", rest.ML_API, kind=Kind.ACTION) or {}


def delete_datastore(clients: Clients, workspace: ResourceId, name: str) -> None:
    rest.send(clients, workspace.subscription, "DELETE", DATASTORES.path(workspace, name), rest.ML_API, kind=Kind.WRITE)

