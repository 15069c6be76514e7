"""Microsoft.MachineLearningServices/workspaces and the assets that move with them."""

from __future__ import annotations

from typing import Any

from amlops.emulator import ids, lro
from amlops.emulator.errors import bad_request
from amlops.emulator.models.common import (
    WORKSPACE_TYPE,
    arm_body,
    ensure_writable,
    public,
    require_group,
    require_workspace,
)
from amlops.emulator.state import Operation, State

DEFAULT_DATASTORES = ("workspaceblobstore", "workspacefilestore", "workspaceartifactstore", "workspaceworkingdirectory")
# Asset collections whose children move with the workspace (containers with versions below).
ASSET_SEGMENTS = ("environments", "models", "data", "codes", "components")


def put_workspace(state: State, workspace_id: str, body: dict[str, Any]) -> tuple[dict[str, Any], Operation]:
    group = require_group(state, workspace_id)
    ensure_writable(state, workspace_id)
    previous = state.store.get(workspace_id)
    props = dict((body or {}).get("properties") or {})
    location = (body or {}).get("location") or group["location"]
    if previous is not None:
        merged = dict(previous["properties"])
        merged.update(props)
        props = merged
        location = previous["location"]
    props.setdefault("friendlyName", ids.name_of(workspace_id))
    props.setdefault("workspaceId", state.new_id())
    props.setdefault("discoveryUrl", f"https://{location}.api.azureml.ms/discovery")
    props.setdefault("mlFlowTrackingUri", f"azureml://{location}.api.azureml.ms/mlflow/v1.0{workspace_id}")
    props.setdefault("publicNetworkAccess", "Enabled")
    props.setdefault("hbiWorkspace", False)
    props["provisioningState"] = "Succeeded"
    workspace = arm_body(
        state,
        previous["id"] if previous else workspace_id,
        WORKSPACE_TYPE,
        props,
        location=location,
        tags=(body or {}).get("tags", (previous or {}).get("tags", {})),
        previous=previous,
        identity=(body or {}).get("identity") or (previous or {}).get("identity") or {"type": "SystemAssigned", "principalId": state.new_id(), "tenantId": state.subscription(ids.subscription_of(workspace_id) or "").tenant_id},
        sku=(body or {}).get("sku") or {"name": "Basic", "tier": "Basic"},
        kind=(body or {}).get("kind") or "Default",
    )
    state.store.put(workspace)
    if previous is None:
        _create_default_datastores(state, workspace)
    return workspace, lro.start(state, "workspace.create", ids.subscription_of(workspace_id) or "", lambda: None)


def _create_default_datastores(state: State, workspace: dict[str, Any]) -> None:
    storage = workspace["properties"].get("storageAccount") or ""
    account = ids.name_of(storage) if storage else f"{workspace['name'].lower()}storage"
    for name in DEFAULT_DATASTORES:
        is_file = name in ("workspacefilestore", "workspaceworkingdirectory")
        props = {
            "datastoreType": "AzureFile" if is_file else "AzureBlob",
            "accountName": account,
            ("fileShareName" if is_file else "containerName"): f"azureml-{name}",
            "endpoint": "core.windows.net",
            "protocol": "https",
            "isDefault": name == "workspaceblobstore",
            "credentials": {"credentialsType": "AccountKey"},  # its type only, as Azure answers (datastore_blob.json)
            "subscriptionId": ids.subscription_of(workspace["id"]),
            "resourceGroup": ids.name_of(ids.resource_group_id(workspace["id"]) or ""),
        }
        did = f"{workspace['id']}/datastores/{name}"
        state.store.put(arm_body(state, did, f"{WORKSPACE_TYPE}/datastores", props))
        state.secrets[ids.key(did)] = {"secretsType": "AccountKey", "key": "ZW11bGF0b3Ita2V5"}


def get_workspace(state: State, workspace_id: str) -> dict[str, Any]:
    workspace = public(require_workspace(state, workspace_id))
    # Azure lists the private endpoint connections inline on the workspace.
    workspace["properties"]["privateEndpointConnections"] = [
        public(c) for c in state.store.children(workspace["id"], "privateEndpointConnections")
    ]
    return workspace


def patch_workspace(state: State, workspace_id: str, body: dict[str, Any]) -> dict[str, Any]:
    workspace = require_workspace(state, workspace_id)
    ensure_writable(state, workspace_id)
    allowed = {"description", "friendlyName", "imageBuildCompute", "publicNetworkAccess", "applicationInsights",
               "containerRegistry", "primaryUserAssignedIdentity", "v1LegacyMode", "managedNetwork", "enableDataIsolation"}
    props = (body or {}).get("properties") or {}
    unknown = sorted(set(props) - allowed)
    if unknown:
        raise bad_request(f"Properties {unknown} cannot be updated on a workspace.", "InvalidWorkspaceUpdate")
    workspace["properties"].update(props)
    if "tags" in (body or {}):
        workspace["tags"] = body["tags"]
    workspace["systemData"]["lastModifiedAt"] = state.clock.iso()
    return get_workspace(state, workspace_id)


def delete_workspace(state: State, workspace_id: str) -> Operation:
    workspace = require_workspace(state, workspace_id)
    ensure_writable(state, workspace_id)

    def complete() -> None:
        for child in state.store.under(workspace["id"]):
            state.store.delete(child["id"])
        state.store.delete(workspace["id"])

    return lro.start(state, "workspace.delete", ids.subscription_of(workspace_id) or "", complete)


def list_workspaces(state: State, scope: str) -> list[dict[str, Any]]:
    return [get_workspace(state, b["id"]) for b in state.store if b["type"] == WORKSPACE_TYPE and ids.is_under(b["id"], scope)]


def list_keys(state: State, workspace_id: str) -> dict[str, Any]:
    require_workspace(state, workspace_id)
    return {"userStorageKey": "ZW11bGF0b3Ita2V5", "userStorageResourceId": "", "appInsightsInstrumentationKey": ""}


def put_asset(state: State, asset_id: str, body: dict[str, Any]) -> dict[str, Any]:
    """Environments, models, data assets and their versions: stored as sent."""
    workspace_id = asset_id.split("/", 9)[:9]
    require_workspace(state, "/".join(workspace_id))
    ensure_writable(state, asset_id)
    previous = state.store.get(asset_id)
    rtype = WORKSPACE_TYPE + "/" + "/".join(asset_id.split("/")[9::2])
    asset = arm_body(state, asset_id, rtype, (body or {}).get("properties") or {}, previous=previous)
    return state.store.put(asset)


# Job schedules, Microsoft.MachineLearningServices/workspaces/schedules (REST specification
# Microsoft.MachineLearningServices/stable/2024-04-01, Schedule/*.json): properties.action, trigger, isEnabled.
