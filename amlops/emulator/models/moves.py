"""validateMoveResources and moveResources, with the rules of Azure's workspace-move documentation.

Refused while the workspace has compute (even compute being created), online endpoints, a
customer-managed key or a Databricks link, or when the target is in another region or tenant,
the target resource group is missing, or the target subscription lacks a required provider.
A move changes ids, locks both resource groups while it runs, leaves non-default datastores
holding the old subscription and resource group, disconnects private endpoint connections and
creates new Pending ones, and leaves workspace-scoped role assignments behind.
"""

from __future__ import annotations

from typing import Any

from amlops.emulator import ids, lro
from amlops.emulator.errors import ArmError, bad_request
from amlops.emulator.models import labeling, locks, network, roles, runhistory
from amlops.emulator.models.common import WORKSPACE_TYPE, ensure_writable
from amlops.emulator.state import Operation, State

# The providers the destination subscription must have registered: "Move Azure Machine Learning workspaces between
# subscriptions" (learn.microsoft.com/azure/machine-learning/how-to-move-workspace), Prerequisites, the table of
# resource providers (Microsoft.Notebooks/NotebookProxies is a type of Microsoft.Notebooks). Checked against the
# table's text in tests/emulator/test_documented_facts.py.
REQUIRED_PROVIDERS = (
    "Microsoft.MachineLearningServices",
    "Microsoft.Storage",
    "Microsoft.ContainerRegistry",
    "Microsoft.KeyVault",
    "Microsoft.Notebooks",
)
# Resource types ARM refuses to move at all: "Resource move is not supported for resource types '...'" as the detail
# ResourceMoveNotSupported (move_validate_refused.json, a user-assigned identity; the move-support table agrees).
NOT_MOVABLE = {"microsoft.managedidentity/userassignedidentities"}
# Workspace properties that point at associated resources, updated when those move along.
ASSOCIATED = ("storageAccount", "keyVault", "containerRegistry", "applicationInsights")


def _problem(code: str, message: str, target: str) -> dict[str, str]:
    return {"code": code, "message": message, "target": target}


def problems(state: State, source_group: str, body: dict[str, Any]) -> list[dict[str, str]]:
    """Every reason the move cannot happen; empty when it can."""
    resources = (body or {}).get("resources") or []
    target = (body or {}).get("targetResourceGroup") or ""
    if not resources or not target:
        raise bad_request("The request needs 'resources' and 'targetResourceGroup'.", "InvalidMoveRequest")
    target_sub = ids.subscription_of(target)
    if target_sub is None or ids.resource_group_id(target) is None:
        raise bad_request(f"targetResourceGroup '{target}' is not a resource group id.", "InvalidTargetResourceGroup")
    if ids.key(target) == ids.key(source_group):
        raise bad_request("The target resource group is the source resource group.", "InvalidTargetResourceGroup")
    found: list[dict[str, str]] = []
    source_sub = state.subscription(ids.subscription_of(source_group) or "")
    try:
        destination = state.subscription(target_sub)
    except ArmError as err:
        return [_problem(err.code, err.message, target)]
    target_group = state.store.get(target)
    if target_group is None:
        found.append(_problem("ResourceGroupNotFound", f"Target resource group '{target}' does not exist; create it first.", target))
    if destination.tenant_id != source_sub.tenant_id:
        found.append(_problem(
            "CrossTenantMoveNotSupported",
            f"The target subscription '{target_sub}' is in tenant {destination.tenant_id}, the source in "
            f"{source_sub.tenant_id}. Moving across Microsoft Entra tenants isn't supported.",
            target,
        ))
    missing = [p for p in REQUIRED_PROVIDERS if destination.registration(p)[1] != "Registered"]
    if missing:
        found.append(_problem(
            "MissingRegistrationsForTargetSubscription",
            f"The target subscription '{target_sub}' is not registered for resource providers {missing}. Register them first.",
            target,
        ))
    for rid in resources:
        resource = state.store.get(rid)
        if resource is None or not ids.is_under(rid, source_group):
            found.append(_problem("ResourceNotFound", f"Resource '{rid}' was not found in resource group '{source_group}'.", rid))
            continue
        if resource["type"].lower() in NOT_MOVABLE:
            found.append(_problem("ResourceMoveNotSupported", f"Resource move is not supported for resource types '{resource['type']}'.", resource["id"]))
            continue  # its only problem, as Azure named it (an identity in eastus2 bound for a group in southcentralus)
        if target_group is not None and resource.get("location", "").lower() != target_group["location"].lower():
            found.append(_problem(
                "CrossRegionMoveNotSupported",
                f"'{resource['name']}' is in {resource['location']}, the target resource group in "
                f"{target_group['location']}. Workspace move doesn't support migration across regions.",
                rid,
            ))
        if resource["type"] == WORKSPACE_TYPE:
            found.extend(_workspace_problems(state, resource))
    found.extend(locks.move_problems(state, source_group, target, [r for r in resources if state.store.get(r) is not None]))
    return found


def _workspace_problems(state: State, workspace: dict[str, Any]) -> list[dict[str, str]]:
    wid, name = workspace["id"], workspace["name"]
    found = []
    computes = state.store.children(wid, "computes")
    if computes:
        names = sorted(c["name"] for c in computes)
        found.append(_problem("WorkspaceHasCompute", f"Workspace '{name}' has compute {names}; delete or detach it before the move.", wid))
    endpoints = state.store.children(wid, "onlineEndpoints")
    if endpoints:
        names = sorted(e["name"] for e in endpoints)
        found.append(_problem("WorkspaceHasOnlineEndpoints", f"Workspace '{name}' has online endpoints {names}; delete them before the move.", wid))
    services = sorted(s["name"] for s in state.store.children(wid, labeling.SERVICES))
    if services:  # the move documentation: "Workspace with deployed services" is not supported
        found.append(_problem("WorkspaceHasDeployedServices", f"Workspace '{name}' has deployed web services {services}; delete them before the move.", wid))
    running = labeling.running_labeling_jobs(state, wid)
    if running:  # "Workspace with currently running labeling projects" is not supported
        found.append(_problem("WorkspaceHasRunningLabelingProjects", f"Workspace '{name}' has running labeling projects {running}.", wid))
    profiling = runhistory.running_profile_runs(state, wid)
    if profiling:  # the move documentation's limitations: running data profiling jobs are not supported
        found.append(_problem("WorkspaceHasRunningDataProfilingJobs", f"Workspace '{name}' has running data profiling jobs {profiling}.", wid))
    if (workspace["properties"].get("encryption") or {}).get("status", "").lower() == "enabled":
        found.append(_problem("CustomerManagedKeyNotSupported", f"Workspace '{name}' uses a customer-managed key; such workspaces cannot be moved.", wid))
    for linked in databricks_links(state, wid):
        found.append(_problem("DatabricksLinkNotSupported", f"Workspace '{name}' is linked with Azure Databricks workspace '{linked}'; unlink it first.", wid))
    return found


def databricks_links(state: State, workspace_id: str) -> list[str]:
    """Azure Databricks workspaces whose amlWorkspaceId parameter names this workspace."""
    return [
        body["id"]
        for body in state.store
        if body["type"].lower() == "microsoft.databricks/workspaces"
        and ids.key(((body["properties"].get("parameters") or {}).get("amlWorkspaceId") or {}).get("value") or "-") == ids.key(workspace_id)
    ]


def validate(state: State, source_group: str, body: dict[str, Any]) -> Operation:
    found = problems(state, source_group, body)
    error = None
    if found:
        # The operation's result, as ARM answered a refused validation (move_validate_refused.json): 400
        # ResourceMoveValidationFailed, "The resource batch move request has 'N' validation errors.", one detail (code,
        # target, message) per problem. The REST spec's 409 ResourceMoveProviderValidationFailed is not what Azure sent.
        count = f"The resource batch move request has '{len(found)}' validation errors. "
        error = ArmError(400, "ResourceMoveValidationFailed", count + " ".join(p["message"] for p in found), found)
    return lro.start(state, "validate", ids.subscription_of(source_group) or "", lambda: None, namespace="Microsoft.Resources", fail_with=error)


def move(state: State, source_group: str, body: dict[str, Any], fail_with: ArmError | None = None) -> Operation:
    found = problems(state, source_group, body)
    if found:
        raise ArmError(409, "ResourceMoveProviderValidationFailed", "Resource move validation failed. " + " ".join(p["message"] for p in found), found)
    target = body["targetResourceGroup"]
    target = state.store.require(target, "ResourceGroup")["id"]
    source = state.store.require(source_group, "ResourceGroup")["id"]
    ensure_writable(state, source)
    ensure_writable(state, target)
    why = f"moving resources from '{source}' to '{target}'"
    state.locked_groups[ids.key(source)] = why
    state.locked_groups[ids.key(target)] = why
    resources = [state.store.require(r)["id"] for r in body["resources"]]

    def unlock() -> None:
        state.locked_groups.pop(ids.key(source), None)
        state.locked_groups.pop(ids.key(target), None)

    def complete() -> None:
        try:
            _apply_move(state, source, target, resources)
        finally:
            unlock()

    # A move that fails after ARM accepted it (fail_with) moves nothing and unlocks both groups: ARM moves
    # the resources of one request together ("the move operation ... either all resources move or none").
    return lro.start(state, "move", ids.subscription_of(source) or "", complete, namespace="Microsoft.Resources", fail_with=fail_with, on_fail=unlock)


def _apply_move(state: State, source: str, target: str, resources: list[str]) -> None:
    renamed = {ids.key(r): ids.rebase(r, source, target) for r in resources}
    for rid in resources:
        body = state.store.delete(rid)
        assert body is not None
        new_id = renamed[ids.key(rid)]
        children = [c for c in state.store.under(rid) if c["type"] != roles.TYPE]  # role assignments stay behind
        for child in children:
            state.store.delete(child["id"])
            child["id"] = ids.rebase(child["id"], source, target)
            _move_secret(state, rid, new_id, child)
            state.store.put(child)
        body["id"] = new_id
        state.store.put(body)
        if body["type"] == WORKSPACE_TYPE:
            _after_workspace_move(state, rid, body, renamed, target)


def _move_secret(state: State, old_parent: str, new_parent: str, child: dict[str, Any]) -> None:
    old_key = ids.key(old_parent) + ids.key(child["id"])[len(ids.key(new_parent)):]
    if old_key in state.secrets:
        state.secrets[ids.key(child["id"])] = state.secrets.pop(old_key)


def _after_workspace_move(state: State, old_id: str, workspace: dict[str, Any], renamed: dict[str, str], target: str) -> None:
    props = workspace["properties"]
    for field in ASSOCIATED:
        if props.get(field) and ids.key(props[field]) in renamed:
            props[field] = renamed[ids.key(props[field])]
    new_sub = ids.subscription_of(target)
    new_group = ids.name_of(target)
    for datastore in state.store.children(workspace["id"], "datastores"):
        # Azure updates the default datastores; non-default ones keep pointing at the old place.
        if datastore["properties"].get("isDefault") or datastore["name"] in ("workspacefilestore", "workspaceartifactstore", "workspaceworkingdirectory"):
            datastore["properties"]["subscriptionId"] = new_sub
            datastore["properties"]["resourceGroup"] = new_group
    for connection in state.store.children(workspace["id"], network.SEGMENT):
        link = connection["properties"]["privateLinkServiceConnectionState"]
        if link["status"] == "Disconnected":
            continue
        link.update({"status": "Disconnected", "description": "Disconnected by workspace move", "actionsRequired": "Recreate"})
        network.new_connection(
            state,
            workspace["id"],
            f"{connection['name']}-{state.new_id()[:8]}",
            connection["properties"]["privateEndpoint"]["id"],
            "Pending",
            "Re-created after workspace move; approval required.",
        )
    for name in state.deleted_compute_names.pop(ids.key(old_id), set()):
        state.etag_conflicts[ids.key(f"{workspace['id']}/computes/{name}")] = state.settings.etag_conflicts_after_move
