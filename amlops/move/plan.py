"""The move's plan: one pure function of the facts, returning typed items. Each item says what the move does to
one thing and carries what its verification compares (amlops.move.verify). A person approves the plan's digest;
the manifest keeps the plan; the flow executes exactly its items.

Items, by kind:
- compute: re-create (Azure-made) or re-attach (attached Kubernetes), with its settings and the power state to
  restore; or leave deleted when the operator turned re-creation off;
- online endpoint: redeploy with its deployments rebased onto the moved workspace, its traffic and mirror traffic;
- datastore: re-point (its storage account moved), keep exactly as it is, or Azure's own (default stores);
- grant: re-create at the new scope, give to the re-created identity, or skip with its reason;
- private endpoint connection: approve by rule (it was Approved), wait for a person (Pending), keep rejected;
- job schedule: disable for the move and enable after it, or leave disabled;
- batch deployment: PUT again with its ids rebased.
"""

from __future__ import annotations

import difflib
import hashlib
import json
from typing import Any, Literal

from pydantic import Field

from amlops.models import ComputeSpec, Datastore, Deployment, Model, OnlineEndpoint, Removal, RoleAssignment, deployment_names
from amlops.move.facts import Inventory, MoveRequest, power_state, resources_to_move
from amlops.rebase import batch_repoints, rebase_assignments, rebase_endpoint


class ComputeItem(Model):
    kind: Literal["compute"] = "compute"
    name: str
    action: Literal["re-create", "re-attach", "leave deleted", "leave detached"]
    power_state: str | None = None  # the power an instance comes back in: Running or Stopped
    spec: ComputeSpec

    @property
    def removal(self) -> Removal:
        """How the move takes it out of a workspace (before the move; a failed re-create, to build it anew): what is
        re-attached or left detached is detached, so the cluster behind it survives; what Azure made is deleted."""
        return "Detach" if self.action in ("re-attach", "leave detached") else "Delete"

    def summary(self) -> dict[str, Any]:
        return {"action": self.action, "type": self.spec.compute_type, "power": self.power_state, "settings": self.spec.settings()}

    def words(self) -> str:
        power = f", {self.power_state}" if self.power_state else ""
        return f"{self.name}: {self.action} ({self.spec.compute_type}{power})"


class EndpointItem(Model):
    kind: Literal["online endpoint"] = "online endpoint"
    name: str
    action: Literal["redeploy", "leave deleted"]
    endpoint: OnlineEndpoint  # rebased: every ARM id names the moved workspace

    def summary(self) -> dict[str, Any]:
        e = self.endpoint
        return {"action": self.action, "auth": e.auth_mode, "traffic": e.traffic, "mirror": e.mirror_traffic,
                "deployments": {d.name: [d.properties, d.sku] for d in e.deployments}}  # fmt: skip

    def words(self) -> str:
        mirror = f", mirror {self.endpoint.mirror_traffic}" if self.endpoint.mirror_traffic else ""
        return f"{self.name}: {self.action}, deployments {deployment_names(self.endpoint)}, traffic {self.endpoint.traffic}{mirror}"


class DatastoreItem(Model):
    kind: Literal["datastore"] = "datastore"
    name: str
    action: Literal["re-point", "keep as it is", "azure's own"]
    before: Datastore

    def summary(self) -> dict[str, Any]:
        return {"action": self.action, "registration": self.before.model_dump()}

    def words(self) -> str:
        return f"{self.name}: {self.action}"


class GrantItem(Model):
    kind: Literal["grant"] = "grant"
    key: str  # principal, role and the scope it was made at: how the manifest names the grant
    action: Literal["re-create", "give to the re-created identity", "skip"]
    reason: str = ""
    grant: RoleAssignment  # re-create: at its new scope, naming the target's role definition; else as it was

    def summary(self) -> dict[str, Any]:
        g = self.grant
        return {"action": self.action, "scope": g.scope.lower(), "role": g.role_definition_id.lower(), "condition": g.condition}

    def words(self) -> str:
        g = self.grant
        said = f"{g.principal_type} {g.principal_id} as {g.role_definition_id.rsplit('/', 1)[-1]}: {self.action}"
        return said + (f" ({self.reason})" if self.reason else "")


class ConnectionItem(Model):
    kind: Literal["private endpoint"] = "private endpoint"
    private_endpoint_id: str
    was: str
    action: Literal["approve by rule", "wait for a person", "keep rejected"]

    def summary(self) -> dict[str, Any]:
        return {"action": self.action, "was": self.was}

    def words(self) -> str:
        return f"{self.private_endpoint_id} (was {self.was}): {self.action}"


class ScheduleItem(Model):
    kind: Literal["job schedule"] = "job schedule"
    name: str
    enabled: bool  # the state it had before the move, and must have after it
    action: Literal["disable for the move, enable after", "leave disabled"]

    def summary(self) -> dict[str, Any]:
        return {"action": self.action, "enabled": self.enabled}

    def words(self) -> str:
        return f"{self.name}: {self.action}"


class BatchDeploymentItem(Model):
    kind: Literal["batch deployment"] = "batch deployment"
    endpoint: str
    auth_mode: str  # the endpoint's, which moves with the workspace unchanged
    deployment: Deployment  # rebased

    @property
    def name(self) -> str:
        return f"{self.endpoint}/{self.deployment.name}"

    def summary(self) -> dict[str, Any]:
        return {"action": "re-point", "deployment": self.deployment.model_dump()}

    def words(self) -> str:
        return f"{self.name}: its ids re-pointed at the moved workspace"


class MovePlan(Model):
    move_id: str
    source: str
    target: str
    move: list[str]  # what Azure moves: the workspace and the associated resources that go with it
    computes: list[ComputeItem] = Field(default_factory=list)
    online_endpoints: list[EndpointItem] = Field(default_factory=list)
    datastores: list[DatastoreItem] = Field(default_factory=list)
    grants: list[GrantItem] = Field(default_factory=list)
    connections: list[ConnectionItem] = Field(default_factory=list)
    schedules: list[ScheduleItem] = Field(default_factory=list)
    batch_deployments: list[BatchDeploymentItem] = Field(default_factory=list)
    # "compute NAME" / "online endpoint NAME" -> the system-assigned principal its re-create replaces
    replaced_identities: dict[str, str] = Field(default_factory=dict)
    notes: list[str] = Field(default_factory=list)

    @property
    def digest(self) -> str:
        """What a person approves: a hash of everything the plan does (item order and notes aside)."""
        return hashlib.sha256(json.dumps(self.lines(), sort_keys=True, default=str).encode()).hexdigest()[:16]

    def lines(self) -> dict[str, Any]:
        """The plan as the comparable record its digest covers: each item by its key."""
        return {
            "move": sorted(r.lower() for r in self.move),
            "target": self.target.lower(),
            **{f"compute {i.name}": i.summary() for i in self.computes},
            **{f"online endpoint {i.name}": i.summary() for i in self.online_endpoints},
            **{f"datastore {i.name}": i.summary() for i in self.datastores},
            **{f"grant {i.key}": i.summary() for i in self.grants},
            **{f"private endpoint {i.private_endpoint_id.lower()}": i.summary() for i in self.connections},
            **{f"job schedule {i.name}": i.summary() for i in self.schedules},
            **{f"batch deployment {i.name}": i.summary() for i in self.batch_deployments},
        }

    def grants_to(self, action: str) -> list[GrantItem]:
        return [g for g in self.grants if g.action == action]

    @property
    def enabled_schedules(self) -> list[str]:
        """The job schedules the move disables while it runs and enables again after it (in the target, or in the
        source when it restores it): those enabled before the move."""
        return [s.name for s in self.schedules if s.enabled]

    def approvable_endpoints(self) -> set[str]:
        """Private endpoints whose new connection a rule may approve: only those Approved before the move."""
        return {c.private_endpoint_id.lower() for c in self.connections if c.action == "approve by rule"}


# The datastores Azure creates with a workspace and updates itself when it moves (the emulator's move model follows the
# move documentation: "Azure updates the default datastores"): not ours to keep byte-identical.
WORKSPACE_DATASTORES = ("workspaceblobstore", "workspacefilestore", "workspaceartifactstore", "workspaceworkingdirectory")


def _datastore_action(request: MoveRequest, d: Datastore, moved_accounts: set[str]) -> Literal["re-point", "keep as it is", "azure's own"]:
    """A default datastore Azure re-points itself. Another whose storage account moved is re-pointed when it names the
    old subscription and group, or names none: the workspace-move documentation's first case ("check if the
    Subscription ID and Resource group name fields are empty. If they are, select Update authentication" with the
    subscription and resource group the storage account moved to). Every other is left exactly as it is."""
    if d.is_default:
        return "azure's own"
    source = request.source_id
    stale = d.points_at(source.subscription, source.resource_group) or not (d.subscription_id or d.resource_group)
    if stale and (d.account_name or "").lower() in moved_accounts:
        return "re-point"
    return "azure's own" if d.name in WORKSPACE_DATASTORES else "keep as it is"


def _compute_item(request: MoveRequest, c: ComputeSpec) -> ComputeItem:
    if request.recreate_compute:
        action: Literal["re-create", "re-attach", "leave deleted", "leave detached"] = "re-attach" if c.is_attached else "re-create"
    else:
        action = "leave detached" if c.is_attached else "leave deleted"
    return ComputeItem(name=c.name, action=action, power_state=power_state(c.state) if c.is_instance else None, spec=c)


def _connection_action(status: str) -> Literal["approve by rule", "wait for a person", "keep rejected"]:
    return {"Approved": "approve by rule", "Rejected": "keep rejected"}.get(status, "wait for a person")  # type: ignore[return-value]


def build_plan(request: MoveRequest, inventory: Inventory) -> MovePlan:
    """The move, item by item, from the workspace's inventory and the operator's request. Pure."""
    moving = resources_to_move(request, inventory.workspace)
    moved = (moving, request.source_id.group_id, request.target_group_id)
    accounts = {r.rsplit("/", 1)[-1].lower() for r in moving if "/microsoft.storage/storageaccounts/" in r.lower()}
    replaced_identities = _replaced_identities(request, inventory)
    replaced = {p.lower(): owner for owner, p in replaced_identities.items()}
    gone = {p.lower() for p in inventory.gone_principals or []}
    auth = {b.name: b.auth_mode for b in inventory.batch_endpoints}
    grants = []
    for old, new in zip(inventory.role_assignments, _rebased_grants(request, inventory, moved), strict=True):
        key = f"{old.grant} at {old.scope.lower()}"
        if old.principal_id.lower() in gone:
            grants.append(GrantItem(key=key, action="skip", reason="its principal no longer exists in the directory (Microsoft Graph; ARM would refuse it: PrincipalNotFound)", grant=old))
        elif old.principal_id.lower() in replaced:
            grants.append(
                GrantItem(
                    key=key,
                    action="give to the re-created identity",
                    reason=f"its principal is the system-assigned identity of {replaced[old.principal_id.lower()]}",
                    grant=old,
                )
            )
        elif new is not None:
            grants.append(GrantItem(key=key, action="re-create", grant=new))
    return MovePlan(
        move_id=request.move_id,
        source=request.source,
        target=str(request.target_id),
        move=moving,
        computes=[_compute_item(request, c) for c in inventory.computes],
        online_endpoints=[
            EndpointItem(name=e.name, action="redeploy" if request.redeploy_endpoints else "leave deleted", endpoint=rebase_endpoint(e, *moved))
            for e in inventory.online_endpoints
        ],
        datastores=[DatastoreItem(name=d.name, action=_datastore_action(request, d, accounts), before=d) for d in inventory.datastores],
        grants=grants,
        connections=[
            ConnectionItem(private_endpoint_id=c.private_endpoint_id, was=c.status, action=_connection_action(c.status))
            for c in inventory.private_endpoint_connections if c.status != "Disconnected"
        ],
        schedules=[ScheduleItem(name=n, enabled=True, action="disable for the move, enable after") for n in inventory.job_schedules]
        + [ScheduleItem(name=n, enabled=False, action="leave disabled") for n in inventory.disabled_job_schedules],
        batch_deployments=[BatchDeploymentItem(endpoint=e, auth_mode=auth[e], deployment=d) for e, d in batch_repoints(inventory.batch_endpoints, *moved)],
        replaced_identities=replaced_identities,
        notes=_notes(request, inventory, moving),
    )  # fmt: skip


def _rebased_grants(request: MoveRequest, inventory: Inventory, moved: tuple[list[str], str, str]) -> list[RoleAssignment | None]:
    """Each grant at its new scope, or None when its scope did not move (it stays in force where it is)."""
    return [next(iter(rebase_assignments([a], *moved, request.target_subscription)), None) for a in inventory.role_assignments]


def _replaced_identities(request: MoveRequest, inventory: Inventory) -> dict[str, str]:
    """System-assigned identities a re-create replaces ("compute NAME" / "online endpoint NAME" -> its principal), as
    far as they hold grants: a re-created compute or redeployed endpoint gets a new principal, and those grants are
    given to it after the rebuild."""
    found: dict[str, str] = {}
    if request.recreate_compute:
        found |= {f"compute {c.name}": c.principal_id for c in inventory.computes if c.principal_id}
    if request.redeploy_endpoints:
        found |= {f"online endpoint {e.name}": e.principal_id for e in inventory.online_endpoints if e.principal_id}
    granted = {a.principal_id.lower() for a in inventory.role_assignments}
    return {owner: p for owner, p in found.items() if p.lower() in granted}


def _notes(request: MoveRequest, inventory: Inventory, moving: list[str]) -> list[str]:
    notes = [
        "The workspace is unavailable while Azure moves it (minutes).",
        "Role assignments made at the old workspace scope stay behind there; they are re-created at the new scope.",
    ]
    if inventory.batch_endpoints:
        notes.append(
            f"Batch endpoints {[b.name for b in inventory.batch_endpoints]} move with the workspace; their deployments that name its compute, models or code are re-pointed after the move."
        )
    shared = [r for r in moving if r.lower() in {m.lower() for m in request.move_shared}]
    if shared:
        notes.append(f"Moved although other workspaces use them (named by the operator): {shared}.")
    if not request.recreate_compute and inventory.computes:
        notes.append("Compute is NOT re-created (recreate_compute is off): the manifest keeps its settings.")
    if not request.redeploy_endpoints and inventory.online_endpoints:
        notes.append("Online endpoints are NOT redeployed (redeploy_endpoints is off): the manifest keeps them.")
    if inventory.gone_principals is None and inventory.role_assignments:
        notes.append(
            "The directory could not be read (Microsoft Graph needs Directory.Read.All): a grant whose principal was deleted is skipped at the rebuild, with the reason."
        )
    return notes


def changes(before: MovePlan, after: MovePlan) -> list[str]:
    """What differs between two plans, item by item, in words: what a person is shown when asked again."""
    old, new = before.lines(), after.lines()
    said = []
    for key in sorted(old.keys() | new.keys()):
        if key not in new:
            said.append(f"gone: {key}")
        elif key not in old:
            said.append(f"new: {key} ({new[key].get('action', '') if isinstance(new[key], dict) else new[key]})")
        elif old[key] != new[key]:
            diff = difflib.unified_diff(_text(old[key]), _text(new[key]), lineterm="", n=0)
            said.append(f"changed: {key}: " + "; ".join(line for line in diff if line[:1] in "+-" and line[:3] not in ("+++", "---")))
    return said


def _text(value: Any) -> list[str]:
    return json.dumps(value, sort_keys=True, indent=1, default=str).splitlines()


def plan_markdown(plan: MovePlan, changed: list[str] | None = None) -> str:
    def section(title: str, items: list[str]) -> str:
        body = "\n".join(f"- `{i}`" for i in items) if items else "- (none)"
        return f"### {title} ({len(items)})\n{body}\n"

    head = [f"## Move plan `{plan.move_id}` (digest `{plan.digest}`)", f"**From** `{plan.source}`  \n**To** `{plan.target}`\n"]
    if changed:
        head.append(section("CHANGED since the plan you approved (the workspace changed meanwhile; nothing was deleted)", changed))
    return "\n".join(
        [
            *head,
            section("Moved by Azure", plan.move),
            section("Compute (deleted or detached before the move)", [i.words() for i in plan.computes]),
            section("Online endpoints (deleted before the move)", [i.words() for i in plan.online_endpoints]),
            section("Datastores", [i.words() for i in plan.datastores]),
            section("Role assignments", [i.words() for i in plan.grants]),
            section("Private endpoint connections", [i.words() for i in plan.connections]),
            section("Job schedules", [i.words() for i in plan.schedules]),
            section("Batch deployments", [i.words() for i in plan.batch_deployments]),
            "### Notes\n" + "\n".join(f"- {n}" for n in plan.notes),
        ]
    )
