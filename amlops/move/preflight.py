"""Every refusal of a workspace move, judged from its facts (amlops.move.facts.MoveFacts): `refusals` is the one
entry point, at the plan and again right before the first destructive step. Pure: tasks/move.read_facts reads.

The move documentation's own list ("Move Azure Machine Learning workspaces between subscriptions", Limitations and
Prerequisites): the same tenant and region, the destination's resource providers registered, no customer-managed
key, no Azure Databricks link, no active jobs or endpoint traffic (the quiesce gate), no running labeling projects,
deployed web services or data profiling. And what Azure would refuse late, refused early, each citing its text:
- locks: "Lock your resources" (azure-resource-manager/management/lock-resources): CanNotDelete refuses deletes,
  ReadOnly deletes and updates, "a read-only lock on a resource group prevents you from moving existing
  resources in or out of the resource group";
- permissions: "Move resources to a new resource group or subscription" (moveResources/action on the source group,
  resourceGroups/write on the destination) and "Move Azure Machine Learning workspaces between subscriptions"
  (delete in the source, create in the destination); effective permissions are actions minus notActions
  (role-based-access-control/role-definitions: "NotActions");
- policy: the workspace-move documentation, "The move mustn't violate Azure Policies in the destination location";
- compute names: "Create an Azure Machine Learning compute instance": a name of 3 to 24 characters, letters,
  digits and hyphens, starting with a letter, unique across the Azure region; compute clusters 2 to 16 characters
  ("Create a compute cluster");
- role definitions: a custom role is assignable only within its assignableScopes (role-based-access-control/
  custom-roles).
"""

from __future__ import annotations

import fnmatch
import re

from amlops.models import ComputeSpec, Job, ManagementLock, Permission, PolicyDenial, Workspace
from amlops.move.facts import Inventory, MoveFacts, MoveRequest, Problem, resources_to_move

ML = "Microsoft.MachineLearningServices/workspaces"
MOVE_ACTION = "Microsoft.Resources/subscriptions/resourceGroups/moveResources/action"
GROUP_WRITE = "Microsoft.Resources/subscriptions/resourceGroups/write"
ROLE_ASSIGNMENT_WRITE = "Microsoft.Authorization/roleAssignments/write"
# Azure ML's own refusal reads: "A name for an Azure ML Compute Instance must be between 3 and 24 characters in
# length and must use only numbers, letters and minus symbol (-), must start with letters. Numbers cannot be the
# ending of the name if the previous character is a minus symbol (-)" (quoted in MicrosoftDocs/pipelines-azureml#19).
_INSTANCE_NAME = re.compile(r"^(?=.{3,24}$)[a-zA-Z][a-zA-Z0-9-]*$")
_CLUSTER_NAME = re.compile(r"^(?=.{2,16}$)[a-zA-Z][a-zA-Z0-9-]*$")
_ENDS_BADLY = re.compile(r"(-|-[0-9]+)$")
RENAME_SUFFIX = "-mvd"


def _under(resource_id: str, scope: str) -> bool:
    r, s = resource_id.rstrip("/").lower(), scope.rstrip("/").lower()
    return r == s or r.startswith(s + "/")


def lock_problems(request: MoveRequest, resources: list[str], source_locks: list[ManagementLock], target_locks: list[ManagementLock]) -> list[Problem]:
    """Locks that would refuse the deletes, the move or the rebuild."""
    problems = []
    workspace = request.source
    for lock in source_locks:
        # A lock on the source group (or above) covers the compute and endpoints the move deletes and the move
        # out of the group; a lock on a resource to move (or on the workspace's children) covers that resource.
        applies = _under(request.source_id.group_id, lock.scope) or any(_under(r, lock.scope) for r in resources) or _under(lock.scope, workspace)
        if not applies:
            continue
        problems.append(Problem(
            code="ScopeLocked",
            message=f"{lock.level} lock '{lock.name}' on {lock.scope} refuses the deletes and the move out of {request.source_id.resource_group}.",
            fix=f"Remove it for the move (az lock delete --ids {lock.id}) and put it back afterwards.",
        ))
    for lock in target_locks:
        if lock.level == "ReadOnly" and _under(request.target_group_id, lock.scope):
            problems.append(Problem(
                code="ScopeLocked",
                message=f"ReadOnly lock '{lock.name}' on {lock.scope} refuses moving resources into {request.target_resource_group} and re-creating compute there.",
                fix=f"Remove it for the move (az lock delete --ids {lock.id}) and put it back afterwards.",
            ))
    return problems


def allowed(action: str, permissions: list[Permission]) -> bool:
    """Whether any permission entry grants ``action`` (actions minus notActions, wildcards as Azure RBAC reads them)."""
    a = action.lower()
    return any(
        any(fnmatch.fnmatch(a, x.lower()) for x in p.actions) and not any(fnmatch.fnmatch(a, n.lower()) for n in p.not_actions)
        for p in permissions
    )


def source_actions(inventory: Inventory) -> list[str]:
    actions = [MOVE_ACTION]
    if inventory.computes:
        actions.append(f"{ML}/computes/delete")
    if inventory.online_endpoints:
        actions.append(f"{ML}/onlineEndpoints/delete")
    return actions


def target_actions(request: MoveRequest, inventory: Inventory) -> list[str]:
    actions = [GROUP_WRITE]
    if request.recreate_compute and inventory.computes:
        actions.append(f"{ML}/computes/write")
    if request.redeploy_endpoints and inventory.online_endpoints:
        actions += [f"{ML}/onlineEndpoints/write", f"{ML}/onlineEndpoints/deployments/write"]
    if inventory.role_assignments:
        actions.append(ROLE_ASSIGNMENT_WRITE)
    return actions


def permission_problems(scope: str, where: str, needed: list[str], permissions: list[Permission]) -> list[Problem]:
    missing = [a for a in needed if not allowed(a, permissions)]
    if not missing:
        return []
    return [Problem(
        code="AuthorizationFailed",
        message=f"You may not {', '.join(missing)} on {where} ({scope}).",
        fix=f"Ask an owner for a role granting {', '.join(missing)} at {scope} (Contributor, plus User Access Administrator for role assignments), then run the move again.",
    )]


def policy_problems(request: MoveRequest, denials: list[PolicyDenial]) -> list[Problem]:
    return [
        Problem(
            code="RequestDisallowedByPolicy",
            message=f"Azure Policy assignment {d.policy_assignment_id} denies {d.resource_type} in {request.target_resource_group}.",
            fix="Ask the policy owner for an exemption for the target resource group, or move to a resource group the policy does not cover.",
        )
        for d in denials
    ]


def types_created_in_target(request: MoveRequest, inventory: Inventory, resources: list[str]) -> list[str]:
    """Resource types the move brings into the target group, or the rebuild creates there."""
    types = {_type_of(r) for r in resources}
    if request.recreate_compute and inventory.computes:
        types.add(f"{ML}/computes")
    if request.redeploy_endpoints and inventory.online_endpoints:
        types |= {f"{ML}/onlineEndpoints", f"{ML}/onlineEndpoints/deployments"}
    return sorted(types)


def _type_of(resource_id: str) -> str:
    after = resource_id.split("/providers/", 1)[-1].split("/")
    return "/".join([after[0], *after[1::2]])


def name_clash_problems(request: MoveRequest, resources: list[str], target_resources: list[str]) -> list[Problem]:
    """A resource of the same type and name already in the target group: the move would collide with it."""
    have = {(_type_of(r).lower(), r.rstrip("/").rsplit("/", 1)[-1].lower()): r for r in target_resources}
    problems = []
    for rid in resources:
        clash = have.get((_type_of(rid).lower(), rid.rstrip("/").rsplit("/", 1)[-1].lower()))
        if clash:
            problems.append(Problem(
                code="NameClash",
                message=f"{clash} already exists in the target resource group.",
                fix=f"Delete or rename it, or move to another resource group than {request.target_resource_group}.",
            ))
    return problems


def renamed_compute(spec: ComputeSpec) -> str:
    """The name the 'rename' Etag policy re-creates a compute under: valid for its kind (instances <= 24, clusters <= 16)."""
    limit = 24 if spec.is_instance else 16
    return spec.name[: limit - len(RENAME_SUFFIX)].rstrip("-") + RENAME_SUFFIX


def valid_compute_name(spec: ComputeSpec, name: str) -> bool:
    if _ENDS_BADLY.search(name):
        return False
    if spec.is_instance:
        return bool(_INSTANCE_NAME.match(name))
    if spec.compute_type == "AmlCompute":
        return bool(_CLUSTER_NAME.match(name))
    return True


def recreate_names(request: MoveRequest, spec: ComputeSpec) -> list[str]:
    """The names a re-create may give a compute: its own, and under the 'rename' Etag policy the renamed one."""
    return [spec.name, renamed_compute(spec)] if request.etag_conflict_policy == "rename" else [spec.name]


def recreate_name_problems(request: MoveRequest, inventory: Inventory, region_instances: dict[str, str]) -> list[Problem]:
    """Every name a re-create may use must be valid for its kind (a new name; its own Azure accepted), and an
    instance's not held by another workspace's instance in the region (``region_instances``: lower-cased name -> that workspace, as far as the caller can read)."""
    if not request.recreate_compute:
        return []
    own = {c.name.lower() for c in inventory.computes}
    problems = []
    seen: set[str] = set()
    for spec in inventory.computes:
        for name in recreate_names(request, spec):
            renamed = name != spec.name
            said = f"Compute '{spec.name}' would be re-created as '{name}'" if renamed else f"Compute instance '{name}'"
            fix = "Rename the compute before the move, or use --etag-conflict-policy report." if renamed else f"Rename '{name}' (or the other instance) before the move."
            if renamed and not valid_compute_name(spec, name):  # its own name Azure accepted when it was made
                problems.append(Problem(code="InvalidComputeName", message=f"{said}, which is not a valid {spec.compute_type} name.", fix=fix))
            elif spec.is_instance and name.lower() in region_instances:
                problems.append(Problem(code="ComputeNameTaken", message=f"{said}, a name workspace {region_instances[name.lower()]} already uses for a compute instance in {inventory.workspace.location} (compute instance names are unique per region).", fix=fix))
            elif renamed and (name.lower() in own or name.lower() in seen):
                problems.append(Problem(code="ComputeNameTaken", message=f"{said}, a name another compute of the workspace would use.", fix=fix))
            seen.add(name.lower())
    return problems


def shared_resources(workspace: Workspace, others: list[Workspace]) -> dict[str, list[str]]:
    """Associated resources of ``workspace`` that other workspaces also use: resource id -> their names."""
    shared: dict[str, list[str]] = {}
    for resource in workspace.associated_resources:
        users = sorted(o.name for o in others if o.id.lower() != workspace.id.lower() and resource.lower() in {r.lower() for r in o.associated_resources})
        if users:
            shared[resource] = users
    return shared


def shared_problems(request: MoveRequest, resources: list[str], shared: dict[str, list[str]]) -> list[Problem]:
    """Moving a resource another workspace still uses breaks that workspace, unless the operator named it."""
    named = {r.lower() for r in request.move_shared}
    return [
        Problem(
            code="SharedResource",
            message=f"{rid} is also used by workspace(s) {', '.join(shared[rid])}; moving it would break them.",
            fix=f"Leave it in place (--exclude-associated) or name it explicitly to move it anyway (--move-shared {rid}).",
        )
        for rid in resources
        if rid in shared and rid.lower() not in named
    ]


def custom_role_problems(request: MoveRequest, missing_roles: list[str]) -> list[Problem]:
    return [
        Problem(
            code="RoleDefinitionDoesNotExist",
            message=f"Role definition {guid}, granted in the workspace, does not exist in the target subscription {request.target_subscription}.",
            fix=f"Add /subscriptions/{request.target_subscription} to the custom role's assignableScopes (az role definition update), then run the move again.",
        )
        for guid in missing_roles
    ]


def in_use_problems(labeling_running: list[str], web_services: list[str], profiling_runs: list[str]) -> list[Problem]:
    """The workspace-move documentation's unsupported scenarios: "Workspace with deployed services", "Workspace with
    currently running labeling projects" and running data profiling jobs. Judged by preflight and again by the
    quiesce gate (right before the first destructive step and before moveResources): any of them can start meanwhile."""
    problems = []
    if profiling_runs:
        problems.append(Problem(
            code="DataProfilingRunning",
            message=f"Data profiling runs {', '.join(profiling_runs)} are running.",
            fix="Wait for them to complete or cancel them (Run.cancel(), or Cancel in Azure ML studio > Jobs), then run the move again.",
        ))
    if labeling_running:
        problems.append(Problem(
            code="LabelingProjectsRunning",
            message=f"Labeling projects {', '.join(labeling_running)} are running.",
            fix="Let them complete, or pause them in Azure ML studio (Data Labeling > Pause), then run the move again.",
        ))
    if web_services:
        problems.append(Problem(
            code="DeployedWebServices",
            message=f"The workspace has deployed web services {', '.join(web_services)}.",
            fix="Delete them (az ml service delete) and redeploy them after the move, preferably as online endpoints.",
        ))
    return problems


def quiesce_problems(active_jobs: list[Job], requests: dict[str, int | None], window_minutes: int, allow_missing_metrics: bool) -> list[Problem]:
    """The quiesce gate, failing closed: an active job, an endpoint that served requests in the window, or
    an endpoint whose metrics returned no data at all (we cannot tell it is quiet) each refuse the move."""
    problems = []
    if active_jobs:
        names = ", ".join(f"{j.name} ({j.status})" for j in active_jobs)
        problems.append(Problem(code="ActiveJobs", message=f"Jobs are still active: {names}.", fix="Wait for them to finish or cancel them, then run the move again."))
    for name, count in requests.items():
        if count is None and not allow_missing_metrics:
            problems.append(Problem(
                code="EndpointMetricsMissing",
                message=f"Azure Monitor returned no request data for online endpoint {name} over the last {window_minutes} minutes, so it cannot be shown to be idle.",
                fix="Check the endpoint's metrics in Azure Monitor; if it is idle, run the move again with --allow-missing-metrics (recorded in the manifest).",
            ))  # fmt: skip
        elif count:
            problems.append(Problem(
                code="EndpointTraffic",
                message=f"Online endpoint {name} served {count} requests in the last {window_minutes} minutes.",
                fix=f"Stop sending traffic to {name} (or shorten the look-back window) and run the move again.",
            ))  # fmt: skip
    return problems


def documented_problems(request: MoveRequest, facts: MoveFacts) -> list[Problem]:
    """The move documentation's prerequisites: tenant, region, resource providers, customer-managed key, Databricks."""
    ws, problems = facts.inventory.workspace, []
    if facts.source_tenant != facts.target_tenant:
        problems.append(Problem(code="OtherTenant", message=f"The target subscription is in tenant {facts.target_tenant}, the workspace in {facts.source_tenant}.", fix="Pick a target subscription in the same Microsoft Entra tenant; moves across tenants are not supported."))
    where = facts.target_group_location
    if where is not None and where.lower() != ws.location.lower():
        problems.append(Problem(code="OtherRegion", message=f"Target resource group {request.target_resource_group} is in {where}, the workspace in {ws.location}.", fix=f"Use a resource group in {ws.location}; moves across regions are not supported."))
    if facts.unregistered_providers:
        missing = facts.unregistered_providers
        problems.append(Problem(code="ProvidersNotRegistered", message=f"The target subscription has not registered {', '.join(missing)}.", fix="Register them: " + "; ".join(f"az provider register -n {m} --subscription {request.target_subscription}" for m in missing)))
    if facts.inventory.workspace.customer_managed_key:
        problems.append(Problem(code="CustomerManagedKey", message=f"Workspace {ws.name} is encrypted with a customer-managed key.", fix="Such workspaces cannot be moved; create a new workspace in the target instead."))
    if facts.databricks_links:
        problems.append(Problem(code="DatabricksLink", message=f"Workspace {ws.name} is linked with Azure Databricks {facts.databricks_links}.", fix="Unlink the Azure Databricks workspace from it before the move."))
    return problems


def refusals(request: MoveRequest, facts: MoveFacts) -> list[Problem]:
    """Every reason to refuse the move, from one read of its facts. Empty: the move may go ahead."""
    inv = facts.inventory
    moving = resources_to_move(request, inv.workspace)
    problems = documented_problems(request, facts)
    problems += lock_problems(request, moving, facts.source_locks, facts.target_locks)
    problems += permission_problems(request.source_id.group_id, "the source resource group", source_actions(inv), facts.source_permissions)
    if facts.target_permissions is not None:
        problems += permission_problems(request.target_group_id, "the target resource group", target_actions(request, inv), facts.target_permissions)
    problems += name_clash_problems(request, moving, facts.target_resources)
    problems += policy_problems(request, facts.policy_denials)
    problems += shared_problems(request, moving, shared_resources(inv.workspace, facts.other_workspaces))
    problems += custom_role_problems(request, facts.missing_roles)
    problems += recreate_name_problems(request, inv, facts.region_instances)
    problems += in_use_problems(facts.labeling_running, facts.web_services, facts.profiling_runs)
    return problems + quiesce_problems(facts.active_jobs, facts.endpoint_requests, facts.window_minutes, request.allow_missing_metrics)
