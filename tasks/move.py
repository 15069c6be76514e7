"""Tasks of the workspace move. Each reads Azure before it writes, so running it twice is safe."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from functools import partial
from typing import Any, TypeVar

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE
from pydantic import BaseModel

from amlops import rebase
from amlops.azure import (
    computes,
    datastores,
    directory,
    endpoints,
    jobs,
    labeling,
    locks,
    moves,
    network,
    permissions,
    policy,
    profiling,
    resources,
    roles,
    schedules,
    services,
    workspaces,
)
from amlops.azure.clients import POOL_SIZE, Clients
from amlops.azure.retry import rerun_step, retrying
from amlops.errors import AmlopsError, AuthenticationFailed, Conflict, InvalidInput, Locked, NotFound, OperationFailed, TransientError
from amlops.models import (
    ComputeSpec,
    Datastore,
    Deployment,
    Job,
    OnlineEndpoint,
    ResourceId,
    RoleAssignment,
    Workspace,
    same_id,
)
from amlops.move import (
    Inventory,
    Location,
    MoveFacts,
    MoveRequest,
    OperationEnd,
    Problem,
    power_state,
    preflight,
    required_providers,
    resources_to_move,
)
from amlops.move.following import PASSING
from amlops.move.plan import ComputeItem
from amlops.move.preflight import renamed_compute
from amlops.move.verify import endpoint_as_planned
from tasks.common import TASK_DEFAULTS, clients

R = TypeVar("R")  # what a compute's create returns (the compute built, or the operation building it)


@task(name="snapshot_workspace", **TASK_DEFAULTS)
def snapshot_workspace(workspace: ResourceId) -> Inventory:
    """Everything a move destroys or breaks, read from Azure. Secrets are never part of it."""
    c = clients()
    info = workspaces.get_workspace(c, workspace)
    grants = _role_assignments(c, info)
    return Inventory(
        workspace=info,
        computes=computes.list_computes(c, workspace),
        online_endpoints=endpoints.list_online_endpoints(c, workspace),
        batch_endpoints=endpoints.list_batch_endpoints(c, workspace),
        datastores=datastores.list_datastores(c, workspace),
        role_assignments=grants,
        gone_principals=directory.missing_principals(c, [a.principal_id for a in grants]) if grants else [],
        private_endpoint_connections=network.list_connections(c, workspace),
        assets=workspaces.list_asset_names(c, workspace),
        job_schedules=schedules.list_schedule_names(c, workspace),
        disabled_job_schedules=schedules.list_schedule_names(c, workspace, enabled=False),
    )


def _role_assignments(c: Any, info: Workspace) -> list[RoleAssignment]:
    """Grants made at the workspace and at each associated resource: a move leaves every one of them behind."""
    found = []
    for scope in (info.id, *info.associated_resources):
        found += roles.list_at_scope(c, scope)
    return found


@task(name="read_facts", **TASK_DEFAULTS)
def read_facts(request: MoveRequest, window_minutes: float) -> MoveFacts:
    """Everything the move's refusals and plan are made from, in one read (reads only): the workspace's inventory,
    the target, permissions, policies, locks, the directory, and what is running (jobs, endpoint traffic in the
    last ``window_minutes``, labeling, web services, profiling)."""
    c = clients()
    try:
        inventory = snapshot_workspace.fn(request.source_id)
    except NotFound as err:
        raise InvalidInput(f"Workspace {request.source} does not exist; check the resource id (az ml workspace show).") from err
    ws, source, target_group = inventory.workspace, request.source_id, request.target_group_id
    group = resources.get_resource_group(c, request.target_subscription, request.target_resource_group)
    exists = group is not None
    others = workspaces.list_workspaces(c, source.subscription)
    guids = sorted({a.role_definition_id.rstrip("/").rsplit("/", 1)[-1].lower() for a in inventory.role_assignments})
    instances = request.recreate_compute and any(x.is_instance for x in inventory.computes)
    created = preflight.types_created_in_target(request, inventory, resources_to_move(request, ws))
    return MoveFacts(
        inventory=inventory,
        source_tenant=resources.subscription_tenant(c, source.subscription),
        target_tenant=resources.subscription_tenant(c, request.target_subscription),
        target_group_location=group.location if group is not None else None,
        unregistered_providers=[p.namespace for p in resources.provider_states(c, request.target_subscription, required_providers(inventory)) if not p.registered],
        databricks_links=resources.databricks_links(c, source.subscription, ws.id),
        source_locks=locks.list_locks(c, source.group_id),
        target_locks=locks.list_locks(c, target_group) if exists else [],
        source_permissions=permissions.list_permissions(c, source.group_id),
        # The Permissions API answers for resource groups and resources, not for a group yet to be made.
        target_permissions=permissions.list_permissions(c, target_group) if exists else None,
        target_resources=resources.list_group_resources(c, request.target_subscription, request.target_resource_group) if exists else [],
        policy_denials=[d for t in created for d in policy.denials(c, target_group if exists else f"/subscriptions/{request.target_subscription}", t, ws.location)],
        other_workspaces=others,
        missing_roles=[g for g in guids if not roles.definition_exists(c, request.target_subscription, g)],
        region_instances=_region_instances(c, request, ws, others) if instances else {},
        **_what_runs(c, source, [e.name for e in inventory.online_endpoints], window_minutes).model_dump(),
    )  # fmt: skip


def _region_instances(c: Clients, request: MoveRequest, ws: Workspace, in_source: list[Workspace]) -> dict[str, str]:
    """Compute instance names other workspaces of the region hold (lower-cased name -> workspace), in the source
    subscription (``in_source``, read already) and the target's, as far as the caller can read: instance names are
    unique per region."""
    held: dict[str, str] = {}
    lists = [in_source]
    if request.target_subscription.lower() != request.source_id.subscription.lower():
        try:
            lists.append(workspaces.list_workspaces(c, request.target_subscription))
        except (AuthenticationFailed, NotFound):
            pass
    for others in lists:
        for other in others:
            if same_id(other.id, ws.id) or other.location.lower().replace(" ", "") != ws.location.lower().replace(" ", ""):
                continue
            try:
                found = computes.list_computes(c, ResourceId.parse(other.id))
            except (AuthenticationFailed, NotFound):  # not ours to read: Azure will say it at create time
                continue
            held |= {x.name.lower(): other.name for x in found if x.is_instance}
    return held


class Running(BaseModel):
    """What is running in a workspace: the quiesce gate's facts."""

    labeling_running: list[str]
    web_services: list[str]
    profiling_runs: list[str]
    active_jobs: list[Job]
    endpoint_requests: dict[str, int | None]
    window_minutes: int


def _what_runs(c: Clients, workspace: ResourceId, endpoint_names: list[str], window_minutes: float) -> Running:
    """Active jobs, endpoint traffic in the look-back window (no window: not asked), labeling projects running, v1 web
    services deployed, data profiling running: what a person can start at any time, read once per moment."""

    def requests(name: str) -> int | None:
        try:
            return endpoints.request_count(c, workspace, name, timedelta(minutes=window_minutes))
        except NotFound:  # deleted already (by a run that died before recording it): it serves nothing now
            return 0

    return Running(
        labeling_running=labeling.running_projects(c, workspace),
        web_services=services.list_web_services(c, workspace),
        profiling_runs=profiling.running_profile_runs(c, workspace),
        active_jobs=jobs.active_jobs(c, workspace),
        endpoint_requests={name: requests(name) for name in endpoint_names} if window_minutes > 0 else {},
        window_minutes=round(window_minutes),
    )


@task(name="quiesce_check", **TASK_DEFAULTS)
def quiesce_check(request: MoveRequest) -> list[Problem]:
    """Right before moveResources: no job started, no labeling, web service or profiling since the last look
    (the endpoints are gone by then: deleted endpoints serve nothing)."""
    now = _what_runs(clients(), request.source_id, [], 0)
    return preflight.in_use_problems(now.labeling_running, now.web_services, now.profiling_runs) + preflight.quiesce_problems(now.active_jobs, {}, 0, request.allow_missing_metrics)


def _delete_online_endpoint(workspace: ResourceId, name: str) -> str:
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


@task(name="workspace_location", **TASK_DEFAULTS)
def workspace_location(request: MoveRequest) -> Location:
    """Where the workspace is now: 'source', 'target' or 'missing'. Asked before any move is (re)tried or undone."""
    c = clients()
    places: tuple[tuple[Location, ResourceId], ...] = (("target", request.target_id), ("source", request.source_id))
    for where, rid in places:
        try:
            workspaces.get_workspace(c, rid)
            return where
        except NotFound:
            continue
    return "missing"


class MoveOutcome(BaseModel):
    end: OperationEnd
    message: str = ""


@task(name="send_move", retries=0, cache_policy=NO_CACHE)
def send_move(request: MoveRequest, resource_ids: list[str], on_accepted: Callable[[str], None], wait_for_lock_seconds: float = 6 * 3600) -> MoveOutcome:
    """moveResources, once. Never retried here: the caller decides from where the workspace is.

    ARM blocks writes on both groups while a move runs, so a send refused with ScopeLocked means a move is
    already under way (one an earlier run sent and died before it could record): wait and ask again, until
    that move ends and this one is either accepted or refused for what it is.
    """
    c = clients()

    def send() -> tuple[moves.MoveEnd, str]:
        return moves.move_resources(c, request.source_id, resource_ids, request.target_group_id, on_accepted)

    try:
        attempts = 6 + int(wait_for_lock_seconds // 30)  # backoff reaches its 30 s cap after ~6 tries
        end, message = retrying(attempts=attempts, sleep=c.sleep, when=lambda e: isinstance(e, Locked))(send)
    except (Locked, TransientError):
        return MoveOutcome(end="unknown", message="Azure's answer to the move was lost or the groups stayed locked")
    except AmlopsError as err:  # refused outright (validation, a lock, permissions): the move did not start
        return MoveOutcome(end="failed", message=f"{err.code}: {err.message}")
    return MoveOutcome(end=end, message=message)


@task(name="follow_move", **TASK_DEFAULTS)
def follow_move(request: MoveRequest, resource_ids: list[str], operation: str) -> MoveOutcome:
    """Wait for the move an earlier run sent, on Azure's own operation; 'unknown' when Azure forgot it."""
    ended = moves.follow_move(clients(), request.source_id, resource_ids, request.target_group_id, operation)
    if ended is None:
        return MoveOutcome(end="unknown", message="Azure no longer knows the move operation")
    return MoveOutcome(end=ended[0], message=ended[1])


def is_etag_conflict(error: BaseException) -> bool:
    return isinstance(error, Conflict) and "etag" in error.message.lower()


class Rebuilt(BaseModel):
    """What a workspace already has of what a rebuild would create: read once, not per item."""

    computes: dict[str, str]  # name -> provisioning state
    online_endpoints: list[OnlineEndpoint]
    datastores: list[Datastore]

    def has_compute(self, name: str) -> bool:
        return self.computes.get(name) == "Succeeded"

    def has_endpoint(self, want: OnlineEndpoint) -> bool:
        """It is there as planned (the verification's own check): nothing to redeploy."""
        return any(endpoint_as_planned(want, e) for e in self.online_endpoints)


@task(name="observe_rebuild", **TASK_DEFAULTS)
def observe_rebuild(workspace: ResourceId) -> Rebuilt:
    c = clients()
    return Rebuilt(
        computes={x.name: x.provisioning_state for x in computes.list_computes(c, workspace)},
        online_endpoints=endpoints.list_online_endpoints(c, workspace),
        datastores=datastores.list_datastores(c, workspace),
    )


# Provisioning states that end: a compute in any other is still being built or removed by Azure.
SETTLED = ("Succeeded", "Failed", "Canceled")


def _settled(c: Clients, workspace: ResourceId, name: str, wait_seconds: float = 1800) -> ComputeSpec | None:
    """The compute once Azure has finished with it, an instance out of its passing states (None when it does not exist)."""
    waited = 0.0
    while True:
        try:
            current = computes.get_compute(c, workspace, name)
        except NotFound:
            return None
        built = current.provisioning_state == "Succeeded" and current.state not in PASSING
        if built or current.provisioning_state in SETTLED[1:] or waited >= wait_seconds:
            return current
        c.sleep(5)
        waited += 5


def create_or_rename(c: Clients, spec: ComputeSpec, create: Callable[[ComputeSpec], R], rename_on_conflict: bool, etag_attempts: int) -> tuple[str, R]:
    """``create`` the compute (a PUT, waited for or not); Azure's same-name Etag conflict after a move is retried with
    backoff, then renamed or reported. Returns the name it was created under, and what ``create`` returned."""
    try:
        return spec.name, retrying(attempts=etag_attempts, sleep=c.sleep, when=is_etag_conflict)(create, spec)
    except Conflict as err:
        if not (is_etag_conflict(err) and rename_on_conflict):
            raise
    renamed = spec.model_copy(update={"name": renamed_compute(spec)})  # valid for its kind: checked in preflight
    return renamed.name, create(renamed)


@task(name="recreate_compute", **TASK_DEFAULTS)
def recreate_compute(workspace: ResourceId, item: ComputeItem, location: str, rename_on_conflict: bool = False, etag_attempts: int = 5, name: str = "") -> str:
    """Bring a compute back as the plan's item says: built (Succeeded) with its old settings and, for an instance,
    in the power state the plan restores. Safe to run again: one being built is waited for, one that failed is
    removed (deleted or detached, as the plan says) and built anew. Returns the name it lives under (a new one only
    under the 'rename' Etag policy)."""
    c, spec = clients(), item.spec
    name = name or spec.name
    current = _settled(c, workspace, name)
    if current is not None and current.provisioning_state != "Succeeded":
        get_run_logger().warning("Compute %s is %s; deleting it to build it again", name, current.provisioning_state)
        computes.delete_compute(c, workspace, name, item.removal)
        current = None
    if current is None:
        name, _ = create_or_rename(c, spec.model_copy(update={"name": name}), partial(computes.create_compute, c, workspace, location=location), rename_on_conflict, etag_attempts)
        current = _settled(c, workspace, name)
        if current is None or current.provisioning_state != "Succeeded":
            raise OperationFailed(f"Compute {name} ended {current.provisioning_state if current else 'missing'} after re-creation.", code="ComputeNotBuilt")
    if item.power_state == "Stopped" and power_state(current.state) != "Stopped":
        computes.stop_compute(c, workspace, name)  # it was off before the move: leave it off, not billing
    return name


@task(name="redeploy_online_endpoint", **TASK_DEFAULTS)
def redeploy_online_endpoint(workspace: ResourceId, endpoint: OnlineEndpoint, location: str, on_deployments_sent: Callable[[], None] = lambda: None) -> str:
    """The endpoint created, its deployments and its traffic; ``on_deployments_sent`` once Azure has answered every
    deployment's PUT (the longest operations of a move: what waits for them may go then)."""
    endpoints.create_online_endpoint(clients(), workspace, endpoint, location, on_deployments_sent)
    return "redeployed"


def _repoint_datastore(workspace: ResourceId, current: Datastore, subscription: str, resource_group: str) -> str:
    """One PUT in place, credentials read and passed straight through: never logged, never stored."""
    datastores.repoint_datastore(clients(), workspace, current, subscription, resource_group)
    return "re-pointed"


SKIPPED_GONE = "skipped: principal no longer exists"


def _recreate_role_assignment(grant: RoleAssignment) -> str:
    """Grant again, at its (rebased) scope, naming the target's role definition, condition kept. A grant whose
    principal was deleted from the directory cannot be made again (ARM: 400 PrincipalNotFound) and grants nothing
    to anyone: skipped, with the reason, rather than failing the rebuild."""
    try:
        created = roles.create(clients(), grant.scope, grant)
    except InvalidInput as err:
        if err.code != "PrincipalNotFound":
            raise
        return f"{SKIPPED_GONE} ({err.code}: {err.message})"
    return f"granted {grant.role_definition_id.rsplit('/', 1)[-1]} to {grant.principal_id} at {grant.scope} as {created.name}"


class Batch(BaseModel):
    """Many quick writes of one step: what each finished one said, and why each failed one failed."""

    done: dict[str, str]
    failed: dict[str, str]


def _batch(items: dict[str, Callable[[], str]]) -> Batch:
    """Each item's write from one pool of threads, not a task run each: a platform's move makes hundreds of these
    quick writes (grants, datastores), and a task run costs more of the flow's time than the write itself. An
    item is tried again exactly when a task would be (``rerun_step``): what the HTTP layer retried is not retried here."""
    done, failed = {}, {}
    again = retrying(attempts=1 + TASK_DEFAULTS["retries"], sleep=clients().sleep, when=rerun_step)
    with ThreadPoolExecutor(max_workers=POOL_SIZE, thread_name_prefix="amlops-writes") as pool:
        futures = {key: pool.submit(again, write) for key, write in items.items()}
        for key, future in futures.items():
            error = future.exception()
            if error is None:
                done[key] = future.result()
            else:
                failed[key] = str(error)
    return Batch(done=done, failed=failed)


@task(name="recreate_role_assignments", **TASK_DEFAULTS)
def recreate_role_assignments(grants: dict[str, RoleAssignment]) -> Batch:
    """Each grant made again (``_recreate_role_assignment``); by key, what was done and what failed."""
    return _batch({key: partial(_recreate_role_assignment, grant) for key, grant in grants.items()})


@task(name="delete_online_endpoints", **TASK_DEFAULTS)
def delete_online_endpoints(workspace: ResourceId, names: list[str]) -> Batch:
    """Each online endpoint deleted, its operation followed on Azure's schedule (``_delete_online_endpoint``); by name,
    what was done and what failed. One task run, not one each: their runs' start, in the flow's process, would hold
    back the compute deletes sent beside them, which the move's validation waits for."""
    return _batch({name: partial(_delete_online_endpoint, workspace, name) for name in names})


@task(name="repoint_datastores", **TASK_DEFAULTS)
def repoint_datastores(workspace: ResourceId, datastores: dict[str, Datastore], subscription: str, resource_group: str) -> Batch:
    """Each datastore re-pointed (``_repoint_datastore``); by name, what was done and what failed."""
    return _batch({name: partial(_repoint_datastore, workspace, d, subscription, resource_group) for name, d in datastores.items()})


@task(name="pause_job_schedules", **TASK_DEFAULTS)
def pause_job_schedules(workspace: ResourceId, names: list[str]) -> list[str]:
    """Disable the workspace's job schedules so none starts a job mid-move. Already disabled counts as done."""
    c = clients()
    return [name for name in names if schedules.set_enabled(c, workspace, name, False)]


@task(name="resume_job_schedules", **TASK_DEFAULTS)
def resume_job_schedules(workspace: ResourceId, names: list[str]) -> list[str]:
    """Enable again the schedules the move disabled (in the moved workspace, or in the source after a restore)."""
    c = clients()
    return [name for name in names if schedules.set_enabled(c, workspace, name, True)]


class Regranted(BaseModel):
    """What the re-grant step did: grants given (in words), old -> new principals, identities not found yet."""

    granted: list[str]
    replaced: dict[str, str]
    missing: list[str]


@task(name="regrant_replaced_identities", **TASK_DEFAULTS)
def regrant_replaced_identities(target: ResourceId, before: dict[str, str], assignments: list[RoleAssignment], moved: list[str], source_group: str, target_group: str) -> Regranted:
    """Give the grants of each replaced system-assigned identity (``before``: "compute NAME" / "online endpoint NAME"
    -> old principal, from amlops.move.replaced_identities) to the identity its re-created resource has now."""
    c = clients()
    now: dict[str, str | None] = {}
    if any(k.startswith("compute ") for k in before):
        now |= {f"compute {x.name}": x.principal_id for x in computes.list_computes(c, target)}
    if any(k.startswith("online endpoint ") for k in before):
        now |= {f"online endpoint {e.name}": e.principal_id for e in endpoints.list_online_endpoints(c, target)}
    replaced = {old: new for key, old in before.items() if (new := now.get(key)) and new.lower() != old.lower()}
    missing = sorted(key for key in before if not now.get(key))
    granted = []
    for grant in rebase.regrants(assignments, replaced, moved, source_group, target_group):
        roles.create(c, grant.scope, grant)
        owner = next(k for k, o in before.items() if replaced.get(o) == grant.principal_id)
        granted.append(f"role {grant.role_definition_id.rsplit('/', 1)[-1]} at {grant.scope} given to the new identity {grant.principal_id} of {owner} (was {before[owner]})")
    return Regranted(granted=granted, replaced=replaced, missing=missing)


@task(name="repoint_batch_deployment", **TASK_DEFAULTS)
def repoint_batch_deployment(target: ResourceId, endpoint: str, deployment: Deployment, location: str) -> str:
    """PUT a batch deployment again with its ids naming the moved workspace (its compute re-created there)."""
    endpoints.put_batch_deployment(clients(), target, endpoint, deployment, location)
    return f"batch deployment {endpoint}/{deployment.name} re-pointed"
