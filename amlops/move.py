"""The workspace move, as data and pure decisions: request, inventory, plan, manifest, verification.

Nothing here talks to Azure or Prefect. Tasks gather facts through the gateway; the flow
hands them to these functions and acts on what they say.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from enum import StrEnum
from typing import Literal

from pydantic import Field

from amlops.approvals import AllowList, Decision
from amlops.errors import InvalidInput
from amlops.models import (
    BatchEndpoint,
    ComputeSpec,
    Datastore,
    Job,
    Model,
    OnlineEndpoint,
    PrivateEndpointConnection,
    ResourceId,
    RoleAssignment,
    Workspace,
    check_resource_group,
    check_subscription,
    deployment_names,
    same_id,
)

# The providers the destination subscription must register: "Move Azure Machine Learning workspaces between
# subscriptions" (learn.microsoft.com/azure/machine-learning/how-to-move-workspace), Prerequisites, the table of
# resource providers; Microsoft.ContainerService only "If you plan on deploying trained models to Azure Kubernetes
# Services". Checked against the table's text in tests/emulator/test_documented_facts.py.
REQUIRED_PROVIDERS = (
    "Microsoft.MachineLearningServices",
    "Microsoft.Storage",
    "Microsoft.ContainerRegistry",
    "Microsoft.KeyVault",
    "Microsoft.Notebooks",
)
KUBERNETES_PROVIDER = "Microsoft.ContainerService"  # needed when Kubernetes/AKS compute is re-attached

EtagPolicy = Literal["report", "rename"]


class MoveRequest(Model):
    """What the operator asked for. The move id derives from it, so the same request resumes the same move."""

    source: str
    target_subscription: str
    target_resource_group: str
    include_associated: bool = True
    recreate_compute: bool = True
    redeploy_endpoints: bool = True
    quiesce_window_minutes: int = Field(default=60, ge=0)
    private_endpoint_allow_list: AllowList = Field(default_factory=AllowList)
    etag_conflict_policy: EtagPolicy = "report"
    # Endpoint metrics that return no data normally refuse the move (the gate fails closed); this
    # override is part of the request, so the manifest records that someone chose it.
    allow_missing_metrics: bool = False
    # Associated resources other workspaces also use, which the operator named to move all the same.
    move_shared: list[str] = Field(default_factory=list)

    def validated(self) -> MoveRequest:
        """The request with ids normalised, or InvalidInput saying what to fix."""
        source = ResourceId.parse(self.source).require_workspace()
        request = self.model_copy(
            update={
                "source": str(source),
                "target_subscription": check_subscription(self.target_subscription, "target subscription"),
                "target_resource_group": check_resource_group(self.target_resource_group),
            }
        )
        if request.source_id.group_id.lower() == request.target_group_id.lower():
            raise InvalidInput(f"The target resource group is the workspace's own ({request.target_group_id}); name another resource group or subscription.")
        return request

    @property
    def source_id(self) -> ResourceId:
        return ResourceId.parse(self.source)

    @property
    def target_id(self) -> ResourceId:
        return self.source_id.moved_to(self.target_subscription, self.target_resource_group)

    @property
    def target_group_id(self) -> str:
        return f"/subscriptions/{self.target_subscription}/resourceGroups/{self.target_resource_group}"

    @property
    def move_id(self) -> str:
        key = f"{self.source.lower()}|{self.target_subscription.lower()}|{self.target_resource_group.lower()}"
        return f"{self.source_id.name}-{hashlib.sha256(key.encode()).hexdigest()[:12]}"


class Problem(Model):
    """A reason the move cannot go ahead, and what a person does about it."""

    code: str
    message: str
    fix: str


class Inventory(Model):
    """A workspace and everything a move destroys or breaks: the snapshot to rebuild from."""

    workspace: Workspace
    computes: list[ComputeSpec] = Field(default_factory=list)
    online_endpoints: list[OnlineEndpoint] = Field(default_factory=list)
    batch_endpoints: list[BatchEndpoint] = Field(default_factory=list)
    datastores: list[Datastore] = Field(default_factory=list)
    role_assignments: list[RoleAssignment] = Field(default_factory=list)
    private_endpoint_connections: list[PrivateEndpointConnection] = Field(default_factory=list)
    assets: dict[str, list[str]] = Field(default_factory=dict)
    # Enabled Azure ML job schedules: disabled for the move (they would start jobs mid-move), enabled after it.
    job_schedules: list[str] = Field(default_factory=list)
    # Principals of its role assignments that no longer exist in the directory (Microsoft Graph); None when the
    # caller may not read the directory (then the rebuild finds them out from ARM's PrincipalNotFound).
    gone_principals: list[str] | None = None
    taken_at: str = Field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))


def resources_to_move(request: MoveRequest, workspace: Workspace) -> list[str]:
    """The workspace, and its associated resources when asked and when they share its resource group."""
    ids = [workspace.id]
    if request.include_associated:
        group = request.source_id.group_id.lower() + "/"
        ids += [r for r in workspace.associated_resources if r.lower().startswith(group)]
    return ids


def moved_storage_accounts(resources: list[str]) -> set[str]:
    return {r.rsplit("/", 1)[-1].lower() for r in resources if "/microsoft.storage/storageaccounts/" in r.lower()}


def datastores_to_repoint(request: MoveRequest, inventory: Inventory, resources: list[str]) -> list[Datastore]:
    """Non-default datastores that will still name the old subscription/group though their storage account moved,
    and those whose subscription and resource group are empty: the workspace-move documentation's first case
    ("check if the Subscription ID and Resource group name fields are empty. If they are, select Update
    authentication" with the subscription and resource group the storage account moved to)."""
    source = request.source_id
    accounts = moved_storage_accounts(resources)
    return [
        d
        for d in inventory.datastores
        if not d.is_default
        and (d.points_at(source.subscription, source.resource_group) or not (d.subscription_id or d.resource_group))
        and (d.account_name or "").lower() in accounts
    ]


def required_providers(inventory: Inventory) -> list[str]:
    needed = list(REQUIRED_PROVIDERS)
    if any(c.compute_type in ("Kubernetes", "AKS") for c in inventory.computes):
        needed.append(KUBERNETES_PROVIDER)
    return needed


class MovePlan(Model):
    move_id: str
    source: str
    target: str
    move: list[str]
    delete_compute: list[str]
    detach_compute: list[str]
    delete_endpoints: list[str]
    recreate_compute: list[str]
    redeploy_endpoints: list[str]
    repoint_datastores: list[str]
    datastores_left_as_is: list[str]
    recreate_role_assignments: list[str]
    private_endpoints_to_approve: list[str]
    private_endpoints_for_a_person: list[str]
    notes: list[str]
    pause_job_schedules: list[str] = Field(default_factory=list)
    skip_role_assignments: list[str] = Field(default_factory=list)


def previously_approved(inventory: Inventory) -> set[str]:
    """Private endpoints whose connection was Approved before the move: the only ones approved again without a person."""
    return {c.private_endpoint_id.lower() for c in inventory.private_endpoint_connections if c.status == "Approved"}


def build_plan(request: MoveRequest, inventory: Inventory) -> MovePlan:
    resources = resources_to_move(request, inventory.workspace)
    repoint = datastores_to_repoint(request, inventory, resources)
    repoint_names = {d.name for d in repoint}
    notes = [
        "The workspace is unavailable while Azure moves it (minutes).",
        "Role assignments made at the old workspace scope stay behind there; they are re-created at the new scope.",
    ]
    if inventory.batch_endpoints:
        notes.append(f"Batch endpoints {[b.name for b in inventory.batch_endpoints]} move with the workspace; their deployments that name its compute, models or code are re-pointed after the move.")
    shared = [r for r in resources if r.lower() in {m.lower() for m in request.move_shared}]
    if shared:
        notes.append(f"Moved although other workspaces use them (named by the operator): {shared}.")
    if not request.recreate_compute and inventory.computes:
        notes.append("Compute is NOT re-created (recreate_compute is off): the manifest keeps its settings.")
    if not request.redeploy_endpoints and inventory.online_endpoints:
        notes.append("Online endpoints are NOT redeployed (redeploy_endpoints is off): the manifest keeps them.")
    gone = {p.lower() for p in inventory.gone_principals or []}
    if inventory.gone_principals is None and inventory.role_assignments:
        notes.append("The directory could not be read (Microsoft Graph needs Directory.Read.All): a grant whose principal was deleted is skipped at the rebuild, with the reason.")
    return MovePlan(
        move_id=request.move_id,
        source=request.source,
        target=str(request.target_id),
        move=resources,
        delete_compute=[c.name for c in inventory.computes if not c.is_attached],
        detach_compute=[c.name for c in inventory.computes if c.is_attached],
        delete_endpoints=[e.name for e in inventory.online_endpoints],
        recreate_compute=[c.name for c in inventory.computes] if request.recreate_compute else [],
        redeploy_endpoints=[e.name for e in inventory.online_endpoints] if request.redeploy_endpoints else [],
        repoint_datastores=sorted(repoint_names),
        datastores_left_as_is=sorted(d.name for d in inventory.datastores if not d.is_default and d.name not in repoint_names),
        recreate_role_assignments=[_grant_words(a) for a in inventory.role_assignments if a.principal_id.lower() not in gone],
        skip_role_assignments=[_grant_words(a) for a in inventory.role_assignments if a.principal_id.lower() in gone],
        private_endpoints_to_approve=sorted(previously_approved(inventory)),
        private_endpoints_for_a_person=[
            f"{c.private_endpoint_id} (was {c.status})" for c in inventory.private_endpoint_connections if c.status in ("Pending", "Rejected")
        ],
        notes=notes,
        pause_job_schedules=list(inventory.job_schedules),
    )


def _grant_words(a: RoleAssignment) -> str:
    return f"{a.principal_type} {a.principal_id} as {a.role_definition_id.rsplit('/', 1)[-1]}"


def plan_markdown(plan: MovePlan) -> str:
    def section(title: str, items: list[str]) -> str:
        body = "\n".join(f"- `{i}`" for i in items) if items else "- (none)"
        return f"### {title} ({len(items)})\n{body}\n"

    return "\n".join(
        [
            f"## Move plan `{plan.move_id}`",
            f"**From** `{plan.source}`  \n**To** `{plan.target}`\n",
            section("Moved by Azure", plan.move),
            section("Compute deleted (re-created after the move)", plan.delete_compute),
            section("Attached compute detached (cluster kept, re-attached after)", plan.detach_compute),
            section("Online endpoints deleted (redeployed after)", plan.delete_endpoints),
            section("Compute re-created in the target", plan.recreate_compute),
            section("Online endpoints redeployed", plan.redeploy_endpoints),
            section("Datastores re-pointed to the new subscription/resource group", plan.repoint_datastores),
            section("Datastores left as they are (their storage stays put)", plan.datastores_left_as_is),
            section("Role assignments re-created at the new scope", plan.recreate_role_assignments),
            section("Role assignments NOT re-created: their principal no longer exists in the directory", plan.skip_role_assignments),
            section("Private endpoints approved before: their new connections are approved (allow-list or policy)", plan.private_endpoints_to_approve),
            section("Private endpoints NOT approved before: their new connections wait for a person", plan.private_endpoints_for_a_person),
            section("Job schedules disabled for the move, enabled after it", plan.pause_job_schedules),
            "### Notes\n" + "\n".join(f"- {n}" for n in plan.notes),
        ]
    )


class Step(StrEnum):
    """The steps of a move, in order. The manifest records each as it completes."""

    SNAPSHOT = "snapshot"
    QUIESCE = "quiesce"
    PAUSE_JOB_SCHEDULES = "pause_job_schedules"  # issue 10
    DELETE_COMPUTE = "delete_compute"
    DELETE_ENDPOINTS = "delete_endpoints"
    VALIDATE = "validate"
    MOVE = "move"
    RECREATE_COMPUTE = "recreate_compute"
    REDEPLOY_ENDPOINTS = "redeploy_endpoints"
    REPOINT_DATASTORES = "repoint_datastores"
    RECREATE_ROLE_ASSIGNMENTS = "recreate_role_assignments"
    REPOINT_BATCH_DEPLOYMENTS = "repoint_batch_deployments"  # issue 10
    REGRANT_IDENTITIES = "regrant_identities"  # issue 10
    RESUME_JOB_SCHEDULES = "resume_job_schedules"  # issue 10
    APPROVE_PRIVATE_ENDPOINTS = "approve_private_endpoints"
    VERIFY = "verify"


STEPS = tuple(Step)
Status = Literal["in-progress", "restoring", "restored", "completed", "incomplete"]


class MoveManifest(Model):
    """Everything needed to rebuild, persisted before anything is deleted. References only, never secrets."""

    move_id: str
    request: MoveRequest
    inventory: Inventory
    resources: list[str]
    steps_done: list[Step] = Field(default_factory=list)
    # The items of a many-item step that succeeded: a step is done only when all of its items are.
    items_done: dict[Step, list[str]] = Field(default_factory=dict)
    status: Status = "in-progress"
    approved_by: str = ""
    quiesced_at: str = ""  # when the gate first found the workspace quiet: the start of the last look-back
    # The move in flight. `move_sent` is recorded BEFORE moveResources is sent; from then on no run
    # restores or re-sends without first finding out where the workspace is. `move_operation` is the
    # SDK's continuation token for Azure's operation (azure-core keeps only polling headers: no secret).
    move_sent: bool = False
    move_operation: str = ""
    renamed_computes: dict[str, str] = Field(default_factory=dict)  # old name -> name re-created under
    decisions: list[Decision] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)
    # System-assigned identities the rebuild replaced: old principal id -> new (their grants were given again).
    replaced_principals: dict[str, str] = Field(default_factory=dict)
    # Principals deleted from the directory (ARM: PrincipalNotFound): their grants were skipped, with the reason.
    gone_principals: list[str] = Field(default_factory=list)

    def done(self, step: Step) -> bool:
        return step in self.steps_done

    def progress(self) -> float:
        """Percent of the move's steps done, for the progress a person watches."""
        return 100.0 * len(set(self.steps_done)) / len(STEPS)

    def with_step(self, step: Step) -> MoveManifest:
        return self if self.done(step) else self.model_copy(update={"steps_done": [*self.steps_done, step]})

    def item_done(self, step: Step, item: str) -> bool:
        return item in self.items_done.get(step, [])

    def with_item(self, step: Step, item: str) -> MoveManifest:
        if self.item_done(step, item):
            return self
        return self.model_copy(update={"items_done": {**self.items_done, step: [*self.items_done.get(step, []), item]}})

    def restarted(self) -> MoveManifest:
        """After a restore: the source is as it was; nothing of this attempt counts any more."""
        return self.model_copy(update={"status": "restored", "steps_done": [Step.SNAPSHOT], "items_done": {}, "move_sent": False, "move_operation": ""})


def replaced_identities(manifest: MoveManifest) -> dict[str, str]:
    """System-assigned identities the rebuild replaces, "compute NAME" / "online endpoint NAME" (under the name the
    resource lives under after the rebuild) -> the old principal. A re-created compute or redeployed endpoint gets a
    new principal; grants to the old one must be given to it again. Only what has grants matters."""
    request, inv = manifest.request, manifest.inventory
    granted = {a.principal_id.lower() for a in inv.role_assignments}
    found: dict[str, str] = {}
    if request.recreate_compute:
        found |= {f"compute {manifest.renamed_computes.get(c.name, c.name)}": c.principal_id for c in inv.computes if c.principal_id}
    if request.redeploy_endpoints:
        found |= {f"online endpoint {e.name}": e.principal_id for e in inv.online_endpoints if e.principal_id}
    return {k: v for k, v in found.items() if v.lower() in granted}


# -- the move in flight: where the workspace is, and what Azure said of the operation, decide the next step

Location = Literal["source", "target", "missing"]
OperationEnd = Literal["succeeded", "failed", "unknown"]
InFlight = Literal["rebuild", "restore", "resend", "stop"]


def after_move_sent(location: Location, operation: OperationEnd) -> InFlight:
    """What a run does once moveResources may have been sent. It never re-sends blindly and never restores
    a workspace that may be moving: it acts on where the workspace is and on Azure's word about the operation.

    - In the target: the move happened (whatever we last knew): rebuild.
    - In neither place: something outside this run is going on; touch nothing.
    - In the source, and Azure reported the operation failed: the move is over and did not happen: restore.
    - In the source, and Azure reported success: contradictory; touch nothing, a person looks.
    - In the source with no word from Azure (the run died before it saved the operation): send again. That
      is safe: while a move runs ARM refuses writes on both groups (ScopeLocked), so a second move cannot
      start beside the first, and a move whose resources have left the source is refused as not found.
    """
    if location == "target":
        return "rebuild"
    if location == "missing":
        return "stop"
    after: dict[OperationEnd, InFlight] = {"failed": "restore", "succeeded": "stop", "unknown": "resend"}
    return after[operation]


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


class Check(Model):
    """One line of the verification report."""

    kind: str
    name: str
    expected: str
    actual: str
    ok: bool
    action: str = ""


def power_state(state: str | None) -> str | None:
    """A compute instance's power as a person means it: on (and billing) or off. Transitional states count as
    where they are heading; None for compute without power (clusters, attached)."""
    if state is None:
        return None
    if state in ("Stopped", "Stopping"):
        return "Stopped"
    return "Running"


def _compute_checks(manifest: MoveManifest, observed: Inventory) -> list[Check]:
    found = {c.name: c for c in observed.computes}
    checks = []
    for want in manifest.inventory.computes:
        name = manifest.renamed_computes.get(want.name, want.name)
        have = found.get(name)
        renamed = f" (re-created as '{name}': Azure's Etag conflict on the old name persisted)" if name != want.name else ""
        if have is None:
            action = f"re-create compute '{want.name}' from manifest {manifest.move_id}" + (" (recreate_compute was off)" if not manifest.request.recreate_compute else "")
            checks.append(Check(kind="compute", name=want.name, expected=want.compute_type, actual="missing", ok=False, action=action))
            continue
        problems = []
        if have.provisioning_state != "Succeeded":
            problems.append(f"provisioning {have.provisioning_state or 'unknown'}")
        diff = sorted(k for k, v in want.settings().items() if have.settings().get(k) != v and k != "name")  # a rename is reported on its own
        if diff:
            problems.append(f"differs in {', '.join(diff)}")
        if want.is_instance and power_state(want.state) != power_state(have.state):
            problems.append(f"{power_state(have.state)} (was {power_state(want.state)} before the move)")
        expected = f"{want.compute_type}, Succeeded, same settings" + (f", {power_state(want.state)}" if want.is_instance else "")
        ok = not problems and not renamed
        actual = ("; ".join(problems) or "as expected") + renamed
        action = "" if ok else f"compute '{name}': " + ("; ".join(problems) or "update what refers to the old name") + f" (manifest {manifest.move_id})"
        checks.append(Check(kind="compute", name=want.name, expected=expected, actual=actual, ok=ok, action=action))
    return checks


def _endpoint_checks(manifest: MoveManifest, observed: Inventory) -> list[Check]:
    found = {e.name: e for e in observed.online_endpoints}
    checks = []
    for want in manifest.inventory.online_endpoints:
        have = found.get(want.name)
        same = have is not None and have.traffic == want.traffic and deployment_names(have) == deployment_names(want)
        actual = "missing" if have is None else f"deployments {deployment_names(have)}, traffic {have.traffic}"
        checks.append(
            Check(
                kind="online endpoint",
                name=want.name,
                expected=f"deployments {deployment_names(want)}, traffic {want.traffic}",
                actual=actual,
                ok=same,
                action="" if same else f"redeploy online endpoint '{want.name}' from manifest {manifest.move_id}",
            )
        )
    return checks


def _datastore_checks(manifest: MoveManifest, observed: Inventory) -> list[Check]:
    found = {d.name: d for d in observed.datastores}
    repoint = {d.name for d in datastores_to_repoint(manifest.request, manifest.inventory, manifest.resources)}
    target = manifest.request.target_id
    checks = []
    for want in manifest.inventory.datastores:
        have = found.get(want.name)
        if want.name in repoint:
            expected = f"points at {target.subscription}/{target.resource_group}, {want.credentials_type} credentials"
            ok = have is not None and have.points_at(target.subscription, target.resource_group) and have.credentials_type == want.credentials_type
        else:
            expected = f"registered, {want.credentials_type} credentials"
            ok = have is not None and have.credentials_type == want.credentials_type
        actual = "missing" if have is None else f"points at {have.subscription_id}/{have.resource_group}, {have.credentials_type} credentials"
        checks.append(Check(kind="datastore", name=want.name, expected=expected, actual=actual, ok=ok, action="" if ok else f"re-register datastore '{want.name}'"))
    return checks


def _role_checks(manifest: MoveManifest, observed: Inventory) -> list[Check]:
    have = {a.key() for a in observed.role_assignments}
    checks = []
    replaced = {k.lower(): v for k, v in manifest.replaced_principals.items()}
    gone = {p.lower() for p in manifest.gone_principals}
    for want in manifest.inventory.role_assignments:
        if want.principal_id.lower() in replaced:  # issue 10: the grant now belongs to the re-created identity
            want = want.model_copy(update={"principal_id": replaced[want.principal_id.lower()]})
        name = f"{want.principal_type} {want.principal_id}"
        role = want.role_definition_id.rsplit("/", 1)[-1]
        if want.principal_id.lower() in gone:
            checks.append(Check(kind="role assignment", name=name, expected=f"role {role} at the workspace", actual="skipped: the principal no longer exists in the directory (PrincipalNotFound)", ok=True))
            continue
        ok = want.key() in have
        checks.append(Check(kind="role assignment", name=name, expected=f"role {role} at the workspace", actual="present" if ok else "missing", ok=ok, action="" if ok else f"grant role {role} to {want.principal_id} at {manifest.request.target_id}"))
    return checks


def _connection_checks(manifest: MoveManifest, observed: Inventory) -> list[Check]:
    """Each private endpoint the workspace had a live connection with, after the move: Approved again if it was
    Approved before, as it was if it was Pending, and whatever a person decided during the move (a decision)."""
    decided = {d.private_endpoint_id.lower(): d for d in manifest.decisions if d.via == "person" and d.outcome in ("Approved", "Rejected")}
    checks = []
    for want in manifest.inventory.private_endpoint_connections:
        if want.status == "Disconnected":
            continue
        endpoint = want.private_endpoint_id
        live = [c for c in observed.private_endpoint_connections if same_id(c.private_endpoint_id, endpoint) and c.status != "Disconnected"]
        status = live[-1].status if live else "missing"
        decision = decided.get(endpoint.lower())
        name = endpoint.rsplit("/", 1)[-1]
        if decision is not None and status == decision.outcome:
            actual = f"{status} by {decision.decided_by} (a person's decision: {decision.reason or 'no reason given'})"
            checks.append(Check(kind="private endpoint", name=name, expected=f"{want.status}, or a person's decision", actual=actual, ok=True))
            continue
        ok = status == want.status
        action = "" if ok else f"decide the connection of {endpoint} (it was {want.status} before the move): amlops approve"
        checks.append(Check(kind="private endpoint", name=name, expected=want.status, actual=status, ok=ok, action=action))
    return checks


def _asset_checks(manifest: MoveManifest, observed: Inventory) -> list[Check]:
    checks = []
    for kind, names in manifest.inventory.assets.items():
        missing = sorted(set(names) - set(observed.assets.get(kind, [])))
        checks.append(Check(kind=kind, name=f"{len(names)} {kind}", expected="all listed", actual="all listed" if not missing else f"missing {missing}", ok=not missing, action="" if not missing else f"open a support case: {kind} {missing} did not move"))
    return checks


def verify(manifest: MoveManifest, observed: Inventory) -> list[Check]:
    """The moved workspace against the manifest, line by line."""
    target = str(manifest.request.target_id)
    checks = [Check(kind="workspace", name=observed.workspace.name, expected=target, actual=observed.workspace.id, ok=same_id(observed.workspace.id, target))]
    for part in (_compute_checks, _endpoint_checks, _datastore_checks, _role_checks, _connection_checks, _asset_checks):
        checks += part(manifest, observed)
    return checks


def checks_markdown(checks: list[Check]) -> str:
    rows = ["| | kind | name | expected | actual | action for a person |", "|---|---|---|---|---|---|"]
    rows += [f"| {'ok' if c.ok else 'MISMATCH'} | {c.kind} | {c.name} | {c.expected} | {c.actual} | {c.action} |" for c in checks]
    return "\n".join(rows)
