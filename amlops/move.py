"""The workspace move, as data and pure decisions: request, inventory, plan, manifest, verification.

Nothing here talks to Azure or Prefect. Tasks gather facts through the gateway; the flow
hands them to these functions and acts on what they say.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Literal

from pydantic import Field

from amlops.approvals import AllowList, Decision
from amlops.models import (
    BatchEndpoint,
    ComputeSpec,
    Datastore,
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

# The providers Azure's move documentation requires in the destination subscription.
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

    def validated(self) -> MoveRequest:
        """The request with ids normalised, or InvalidInput saying what to fix."""
        source = ResourceId.parse(self.source).require_workspace()
        return self.model_copy(
            update={
                "source": str(source),
                "target_subscription": check_subscription(self.target_subscription, "target subscription"),
                "target_resource_group": check_resource_group(self.target_resource_group),
            }
        )

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
    """Non-default datastores that will still name the old subscription/group though their storage account moved."""
    source = request.source_id
    accounts = moved_storage_accounts(resources)
    return [
        d
        for d in inventory.datastores
        if not d.is_default
        and d.points_at(source.subscription, source.resource_group)
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
    notes: list[str]


def build_plan(request: MoveRequest, inventory: Inventory) -> MovePlan:
    resources = resources_to_move(request, inventory.workspace)
    repoint = datastores_to_repoint(request, inventory, resources)
    repoint_names = {d.name for d in repoint}
    notes = [
        "The workspace is unavailable while Azure moves it (minutes).",
        "Role assignments made at the old workspace scope stay behind there; they are re-created at the new scope.",
    ]
    if inventory.batch_endpoints:
        notes.append(f"Batch endpoints {[b.name for b in inventory.batch_endpoints]} are not touched.")
    if not request.recreate_compute and inventory.computes:
        notes.append("Compute is NOT re-created (recreate_compute is off): the manifest keeps its settings.")
    if not request.redeploy_endpoints and inventory.online_endpoints:
        notes.append("Online endpoints are NOT redeployed (redeploy_endpoints is off): the manifest keeps them.")
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
        recreate_role_assignments=[f"{a.principal_type} {a.principal_id} as {a.role_definition_id.rsplit('/', 1)[-1]}" for a in inventory.role_assignments],
        private_endpoints_to_approve=[c.private_endpoint_id for c in inventory.private_endpoint_connections if c.status == "Approved"],
        notes=notes,
    )


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
            section("Private endpoints whose new connections need approval", plan.private_endpoints_to_approve),
            "### Notes\n" + "\n".join(f"- {n}" for n in plan.notes),
        ]
    )


# The steps of a move, in order. The manifest records each as it completes.
STEPS = (
    "snapshot",
    "quiesce",
    "delete_compute",
    "delete_endpoints",
    "validate",
    "move",
    "recreate_compute",
    "redeploy_endpoints",
    "repoint_datastores",
    "recreate_role_assignments",
    "approve_private_endpoints",
    "verify",
)
Status = Literal["in-progress", "restored", "completed", "incomplete"]


class MoveManifest(Model):
    """Everything needed to rebuild, persisted before anything is deleted. References only, never secrets."""

    move_id: str
    request: MoveRequest
    inventory: Inventory
    resources: list[str]
    steps_done: list[str] = Field(default_factory=list)
    status: Status = "in-progress"
    approved_by: str = ""
    decisions: list[Decision] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)
    # old name -> new name, for compute re-created under a new name (policy 'rename')
    renamed_computes: dict[str, str] = Field(default_factory=dict)

    def done(self, step: str) -> bool:
        return step in self.steps_done

    def with_step(self, step: str) -> MoveManifest:
        return self if self.done(step) else self.model_copy(update={"steps_done": [*self.steps_done, step]})


def renamed_compute(name: str, suffix: str = "-moved") -> str:
    """A new name for a compute whose own name Azure keeps refusing after the move, within Azure's rule:
    3 to 24 letters, digits and '-', starting with a letter (its error message for an invalid compute name)."""
    return name[: 24 - len(suffix)].rstrip("-") + suffix


class Check(Model):
    """One line of the verification report."""

    kind: str
    name: str
    expected: str
    actual: str
    ok: bool
    action: str = ""


def _compute_checks(manifest: MoveManifest, observed: Inventory) -> list[Check]:
    found = {c.name: c for c in observed.computes}
    checks = []
    for want in manifest.inventory.computes:
        have = found.get(manifest.renamed_computes.get(want.name, want.name))
        if have is None:
            action = f"re-create compute '{want.name}' from manifest {manifest.move_id}" + (" (recreate_compute was off)" if not manifest.request.recreate_compute else "")
            checks.append(Check(kind="compute", name=want.name, expected=want.compute_type, actual="missing", ok=False, action=action))
            continue
        diff = sorted(k for k, v in want.settings().items() if have.settings().get(k) != v and k != "name")  # a rename is recorded, not a difference
        checks.append(
            Check(
                kind="compute",
                name=want.name,
                expected=f"{want.compute_type}, same settings",
                actual="same settings" if not diff else f"differs in {', '.join(diff)}",
                ok=not diff,
                action="" if not diff else f"compare compute '{want.name}' with the manifest and fix {', '.join(diff)}",
            )
        )
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
    for want in manifest.inventory.role_assignments:
        ok = want.key() in have
        name = f"{want.principal_type} {want.principal_id}"
        role = want.role_definition_id.rsplit("/", 1)[-1]
        checks.append(Check(kind="role assignment", name=name, expected=f"role {role} at the workspace", actual="present" if ok else "missing", ok=ok, action="" if ok else f"grant role {role} to {want.principal_id} at {manifest.request.target_id}"))
    return checks


def _connection_checks(manifest: MoveManifest, observed: Inventory) -> list[Check]:
    checks = []
    for want in manifest.inventory.private_endpoint_connections:
        if want.status != "Approved":
            continue
        live = [c for c in observed.private_endpoint_connections if same_id(c.private_endpoint_id, want.private_endpoint_id) and c.status != "Disconnected"]
        status = live[-1].status if live else "missing"
        ok = status == "Approved"
        checks.append(Check(kind="private endpoint", name=want.private_endpoint_id.rsplit("/", 1)[-1], expected="Approved", actual=status, ok=ok, action="" if ok else f"approve the connection of {want.private_endpoint_id} (amlops approve)"))
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
