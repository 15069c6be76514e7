"""Tasks of the workspace move. Each reads Azure before it writes, so running it twice is safe."""

from __future__ import annotations

from datetime import timedelta

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE
from pydantic import BaseModel

from amlops.azure import computes, datastores, endpoints, jobs, moves, network, resources, roles, workspaces
from amlops.azure.errors import Conflict, NotFound
from amlops.azure.retry import retrying
from amlops.models import ComputeSpec, Datastore, OnlineEndpoint, ResourceId, RoleAssignment, deployment_names
from amlops.move import Inventory, MoveRequest, Problem, renamed_compute, required_providers
from tasks.common import TASK_DEFAULTS, clients


@task(name="snapshot_workspace", **TASK_DEFAULTS)
def snapshot_workspace(workspace: ResourceId) -> Inventory:
    """Everything a move destroys or breaks, read from Azure. Secrets are never part of it."""
    c = clients()
    info = workspaces.get_workspace(c, workspace)
    return Inventory(
        workspace=info,
        computes=computes.list_computes(c, workspace),
        online_endpoints=endpoints.list_online_endpoints(c, workspace),
        batch_endpoints=endpoints.list_batch_endpoints(c, workspace),
        datastores=datastores.list_datastores(c, workspace),
        role_assignments=roles.list_at_scope(c, str(workspace)),
        private_endpoint_connections=network.list_connections(c, workspace),
        assets=workspaces.list_asset_names(c, workspace),
    )


@task(name="preflight_move", **TASK_DEFAULTS)
def preflight_move(request: MoveRequest, inventory: Inventory) -> list[Problem]:
    """The move documentation's preconditions, each failure with its fix. Reads only."""
    c = clients()
    ws = inventory.workspace
    problems: list[Problem] = []
    source_tenant = resources.subscription_tenant(c, request.source_id.subscription)
    target_tenant = resources.subscription_tenant(c, request.target_subscription)
    if source_tenant != target_tenant:
        problems.append(Problem(code="OtherTenant", message=f"The target subscription is in tenant {target_tenant}, the workspace in {source_tenant}.", fix="Pick a target subscription in the same Microsoft Entra tenant; moves across tenants are not supported."))
    group = resources.get_resource_group(c, request.target_subscription, request.target_resource_group)
    if group is not None and group.location.lower() != ws.location.lower():
        problems.append(Problem(code="OtherRegion", message=f"Target resource group {request.target_resource_group} is in {group.location}, the workspace in {ws.location}.", fix=f"Use a resource group in {ws.location}; moves across regions are not supported."))
    missing = [p.namespace for p in resources.provider_states(c, request.target_subscription, required_providers(inventory)) if not p.registered]
    if missing:
        problems.append(Problem(code="ProvidersNotRegistered", message=f"The target subscription has not registered {', '.join(missing)}.", fix="Register them: " + "; ".join(f"az provider register -n {m} --subscription {request.target_subscription}" for m in missing)))
    if ws.customer_managed_key:
        problems.append(Problem(code="CustomerManagedKey", message=f"Workspace {ws.name} is encrypted with a customer-managed key.", fix="Such workspaces cannot be moved; create a new workspace in the target instead."))
    linked = resources.databricks_links(c, request.source_id.subscription, ws.id)
    if linked:
        problems.append(Problem(code="DatabricksLink", message=f"Workspace {ws.name} is linked with Azure Databricks {linked}.", fix="Unlink the Azure Databricks workspace from it before the move."))
    return problems


@task(name="quiesce_check", **TASK_DEFAULTS)
def quiesce_check(workspace: ResourceId, endpoint_names: list[str], window_minutes: int) -> list[Problem]:
    """No active jobs; no online endpoint traffic within the look-back window."""
    c = clients()
    problems = []
    active = jobs.active_jobs(c, workspace)
    if active:
        names = ", ".join(f"{j.name} ({j.status})" for j in active)
        problems.append(Problem(code="ActiveJobs", message=f"Jobs are still active: {names}.", fix="Wait for them to finish or cancel them, then run the move again."))
    if window_minutes > 0:
        for name in endpoint_names:
            count = endpoints.request_count(c, workspace, name, timedelta(minutes=window_minutes))
            if count:
                problems.append(Problem(code="EndpointTraffic", message=f"Online endpoint {name} served {count} requests in the last {window_minutes} minutes.", fix=f"Stop sending traffic to {name} (or shorten the look-back window) and run the move again."))
    return problems


@task(name="delete_compute", **TASK_DEFAULTS)
def delete_compute(workspace: ResourceId, spec: ComputeSpec) -> str:
    """Delete Azure-made compute, detach attached compute. Already gone counts as done."""
    try:
        action = computes.delete_compute(clients(), workspace, spec)
    except NotFound:
        return "already gone"
    return "detached" if action == "Detach" else "deleted"


@task(name="delete_online_endpoint", **TASK_DEFAULTS)
def delete_online_endpoint(workspace: ResourceId, name: str) -> str:
    try:
        endpoints.delete_online_endpoint(clients(), workspace, name)
    except NotFound:
        return "already gone"
    return "deleted"


@task(name="validate_move", **TASK_DEFAULTS)
def validate_move(request: MoveRequest, resource_ids: list[str]) -> None:
    moves.validate_move(clients(), request.source_id, resource_ids, request.target_group_id)


@task(name="ensure_target_group", **TASK_DEFAULTS)
def ensure_target_group(request: MoveRequest, location: str) -> None:
    resources.ensure_resource_group(clients(), request.target_subscription, request.target_resource_group, location)


def workspace_location(request: MoveRequest) -> str:
    """Where the workspace is now: 'source', 'target' or 'missing'. Asked before any move is (re)tried."""
    c = clients()
    for where, rid in (("target", request.target_id), ("source", request.source_id)):
        try:
            workspaces.get_workspace(c, rid)
            return where
        except NotFound:
            continue
    return "missing"


@task(name="move_resources", retries=0, cache_policy=NO_CACHE)
def move_resources(request: MoveRequest, resource_ids: list[str]) -> str:
    """moveResources, never repeated blindly: where the workspace is decides whether to send it again."""
    logger = get_run_logger()
    if workspace_location(request) == "target":
        return "already moved"
    try:
        moves.move_resources(clients(), request.source_id, resource_ids, request.target_group_id)
    except Exception:
        where = workspace_location(request)
        if where == "target":
            logger.warning("moveResources reported an error, but the workspace is in the target: the move happened.")
            return "moved"
        raise
    return "moved"


def _is_etag_conflict(error: BaseException) -> bool:
    return isinstance(error, Conflict) and "etag" in error.message.lower()


class Rebuilt(BaseModel):
    """What a workspace already has of what a rebuild would create: read once, not per item."""

    computes: dict[str, str]  # name -> provisioning state
    online_endpoints: list[OnlineEndpoint]
    datastores: list[Datastore]

    def has_compute(self, name: str) -> bool:
        return self.computes.get(name) == "Succeeded"

    def has_endpoint(self, want: OnlineEndpoint) -> bool:
        return any(e.name == want.name and e.traffic == want.traffic and deployment_names(e) == deployment_names(want) for e in self.online_endpoints)


@task(name="observe_rebuild", **TASK_DEFAULTS)
def observe_rebuild(workspace: ResourceId) -> Rebuilt:
    c = clients()
    return Rebuilt(
        computes={x.name: x.provisioning_state for x in computes.list_computes(c, workspace)},
        online_endpoints=endpoints.list_online_endpoints(c, workspace),
        datastores=datastores.list_datastores(c, workspace),
    )


@task(name="recreate_compute", **TASK_DEFAULTS)
def recreate_compute(workspace: ResourceId, spec: ComputeSpec, location: str, rename_on_conflict: bool = False, etag_attempts: int = 5) -> str:
    """Re-create a compute with its old settings. Azure's same-name Etag conflict after a move is retried
    with backoff; if it persists, the compute is re-created under a new name (policy 'rename') or reported."""
    c = clients()
    try:
        retrying(attempts=etag_attempts, sleep=c.sleep, when=_is_etag_conflict)(computes.create_compute, c, workspace, spec, location)
        return "re-created"
    except Conflict as err:
        if not (_is_etag_conflict(err) and rename_on_conflict):
            raise
    renamed = spec.model_copy(update={"name": renamed_compute(spec.name)})
    computes.create_compute(c, workspace, renamed, location)
    return f"re-created as {renamed.name} (Etag conflict on the old name persisted)"


@task(name="redeploy_online_endpoint", **TASK_DEFAULTS)
def redeploy_online_endpoint(workspace: ResourceId, endpoint: OnlineEndpoint, location: str) -> str:
    endpoints.create_online_endpoint(clients(), workspace, endpoint, location)
    return "redeployed"


@task(name="repoint_datastore", **TASK_DEFAULTS)
def repoint_datastore(workspace: ResourceId, current: Datastore, subscription: str, resource_group: str) -> str:
    """One PUT in place, credentials read and passed straight through: never logged, never stored."""
    datastores.repoint_datastore(clients(), workspace, current, subscription, resource_group)
    return "re-pointed"


@task(name="recreate_role_assignment", **TASK_DEFAULTS)
def recreate_role_assignment(scope: str, grant: RoleAssignment) -> str:
    created = roles.create(clients(), scope, grant)
    return f"granted as {created.name}"


