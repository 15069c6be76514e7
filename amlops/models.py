"""The values flows and tasks pass around: pydantic models, never SDK objects.

Everything here is safe to persist and to show: no model holds a secret. Datastore
credentials are described by their type only; the gateway reads secrets just in time.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from amlops.errors import InvalidInput

ML = "Microsoft.MachineLearningServices"
_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_RG_NAME = re.compile(r"^[-\w\._\(\)]{1,90}$")
_WS_NAME = re.compile(r"^[a-zA-Z0-9][\w-]{2,32}$")


class Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


def check_subscription(value: str, what: str = "subscription id") -> str:
    if not _GUID.match(value or ""):
        raise InvalidInput(f"{what} {value!r} is not a GUID such as 00000000-0000-0000-0000-000000000000.")
    return value.lower()


def check_resource_group(value: str) -> str:
    if not _RG_NAME.match(value or "") or value.endswith("."):
        raise InvalidInput(
            f"resource group name {value!r} is invalid: use 1-90 letters, digits, '-', '_', '.', '(' or ')', not ending in '.'."
        )
    return value


class ResourceId(Model):
    """An ARM resource id, parsed and validated: ``/subscriptions/S/resourceGroups/G/providers/NS/type/name[/type/name...]``."""

    subscription: str
    resource_group: str
    namespace: str = ""
    types: tuple[str, ...] = ()
    names: tuple[str, ...] = ()

    @classmethod
    def parse(cls, value: str) -> ResourceId:
        text = (value or "").strip()
        if not text.startswith("/"):
            raise InvalidInput(f"{value!r} is not an Azure resource id: it must start with /subscriptions/<id>/resourceGroups/<name>.")
        parts = text.strip("/").split("/")
        if len(parts) < 4 or parts[0].lower() != "subscriptions" or parts[2].lower() != "resourcegroups":
            raise InvalidInput(f"{value!r} is not an Azure resource id: expected /subscriptions/<id>/resourceGroups/<name>/...")
        subscription = check_subscription(parts[1], f"the subscription in {value!r}")
        group = check_resource_group(parts[3])
        rest = parts[4:]
        if not rest:
            return cls(subscription=subscription, resource_group=group)
        if rest[0].lower() != "providers" or len(rest) < 4 or len(rest) % 2 != 0:
            raise InvalidInput(f"{value!r} is not an Azure resource id: after the resource group expect /providers/<Namespace>/<type>/<name>.")
        if any(not p for p in rest):
            raise InvalidInput(f"{value!r} has an empty segment.")
        return cls(subscription=subscription, resource_group=group, namespace=rest[1], types=tuple(rest[2::2]), names=tuple(rest[3::2]))

    @classmethod
    def workspace(cls, subscription: str, resource_group: str, name: str) -> ResourceId:
        if not _WS_NAME.match(name or ""):
            raise InvalidInput(f"workspace name {name!r} is invalid: 3-33 letters, digits, '-' or '_', starting with a letter or digit.")
        return cls(
            subscription=check_subscription(subscription),
            resource_group=check_resource_group(resource_group),
            namespace=ML,
            types=("workspaces",),
            names=(name,),
        )

    @property
    def group_id(self) -> str:
        return f"/subscriptions/{self.subscription}/resourceGroups/{self.resource_group}"

    @property
    def name(self) -> str:
        return self.names[-1] if self.names else self.resource_group

    @property
    def type(self) -> str:
        return "/".join((self.namespace, *self.types)) if self.namespace else "Microsoft.Resources/resourceGroups"

    @property
    def is_workspace(self) -> bool:
        return self.namespace.lower() == ML.lower() and [t.lower() for t in self.types] == ["workspaces"]

    def require_workspace(self) -> ResourceId:
        if not self.is_workspace:
            raise InvalidInput(f"{self} is a {self.type}, not an Azure ML workspace ({ML}/workspaces).")
        return self

    def child(self, segment: str, name: str) -> ResourceId:
        return self.model_copy(update={"types": (*self.types, segment), "names": (*self.names, name)})

    def moved_to(self, subscription: str, resource_group: str) -> ResourceId:
        return self.model_copy(update={"subscription": subscription.lower(), "resource_group": resource_group})

    def __str__(self) -> str:
        tail = "".join(f"/{t}/{n}" for t, n in zip(self.types, self.names, strict=True))
        return self.group_id + (f"/providers/{self.namespace}{tail}" if self.namespace else "")


def same_id(a: str, b: str) -> bool:
    return a.rstrip("/").lower() == b.rstrip("/").lower()


class ResourceGroup(Model):
    id: str
    name: str
    location: str


class Workspace(Model):
    id: str
    name: str
    location: str
    subscription: str
    resource_group: str
    tenant_id: str = ""
    description: str = ""
    storage_account: str | None = None
    key_vault: str | None = None
    container_registry: str | None = None
    application_insights: str | None = None
    customer_managed_key: bool = False
    public_network_access: str = "Enabled"
    tags: dict[str, str] = Field(default_factory=dict)

    @property
    def resource_id(self) -> ResourceId:
        return ResourceId.parse(self.id)

    @property
    def associated_resources(self) -> list[str]:
        return [r for r in (self.storage_account, self.key_vault, self.container_registry, self.application_insights) if r]


ComputeType = Literal["ComputeInstance", "AmlCompute", "Kubernetes", "AKS", "Databricks", "VirtualMachine", "HDInsight", "SynapseSpark"]
ATTACHED_COMPUTE = {"Kubernetes", "AKS", "Databricks", "VirtualMachine", "HDInsight", "SynapseSpark"}
# What a compute DELETE does to the resource behind it: Azure ML's `underlyingResourceAction` query parameter
# (machinelearningservices REST spec, Compute_Delete: "Delete the underlying compute if 'Delete', or detach the
# underlying compute from workspace if 'Detach'").
Removal = Literal["Delete", "Detach"]
# Properties Azure sets itself: never sent back when a compute is re-created.
READ_ONLY_COMPUTE = {"provisioningState", "createdOn", "modifiedOn", "provisioningErrors", "isAttachedCompute", "disableLocalAuth_"}
READ_ONLY_INNER = {
    "state", "errors", "applications", "connectivityEndpoints", "createdBy", "lastOperation", "osImageMetadata",
    "allocationState", "allocationStateTransitionTime", "currentNodeCount", "targetNodeCount", "nodeStateCounts",
    "versions", "dataMounts", "containers",
}


# Fields Azure adds to each compute start/stop schedule it returns (ComputeStartStopSchedule in the
# machinelearningservices REST spec: `id`, `provisioningStatus` are read-only): not settings a person chose.
SCHEDULE_SERVICE_FIELDS = frozenset({"id", "provisioningStatus"})


class ComputeSpec(Model):
    """Everything needed to re-create a compute exactly, and the fields people look at."""

    name: str
    compute_type: str
    location: str = ""
    state: str | None = None  # Running / Stopped / ... for compute instances
    # An instance's latest power action as Azure reports it: operationName (Start, Stop, ...), operationStatus
    # (InProgress, Succeeded, StartFailed, ...), operationTime, operationTrigger (REST spec ComputeInstanceLastOperation).
    last_operation: dict[str, Any] | None = None
    provisioning_state: str = ""
    vm_size: str | None = None
    idle_time_before_shutdown: str | None = None
    schedules: list[dict[str, Any]] = Field(default_factory=list)
    ssh_public_access: str | None = None
    ssh_admin_user: str | None = None
    assigned_user: dict[str, str] | None = None
    setup_scripts: dict[str, Any] | None = None
    identity: dict[str, Any] | None = None
    tier: str | None = None  # Dedicated / LowPriority for clusters
    min_nodes: int | None = None
    max_nodes: int | None = None
    attached_resource_id: str | None = None
    tags: dict[str, str] = Field(default_factory=dict)
    description: str | None = None
    # The properties to PUT back, read-only fields removed: what makes re-creation exact.
    create_properties: dict[str, Any] = Field(default_factory=dict)
    # The system-assigned identity's principal: a re-created compute gets a new one.
    principal_id: str | None = None

    @property
    def is_attached(self) -> bool:
        return self.compute_type in ATTACHED_COMPUTE

    @property
    def is_instance(self) -> bool:
        return self.compute_type == "ComputeInstance"

    def settings(self) -> dict[str, Any]:
        """The settings a verification compares: what a person would notice changed."""
        return self.model_dump(exclude={"state", "last_operation", "provisioning_state", "location", "create_properties", "identity", "schedules", "principal_id"}) | {
            "identity_type": (self.identity or {}).get("type", "None"),
            "user_assigned_identities": sorted(k.lower() for k in (self.identity or {}).get("userAssignedIdentities") or {}),
            "schedules": [{k: v for k, v in s.items() if k not in SCHEDULE_SERVICE_FIELDS} for s in self.schedules],
        }


class Deployment(Model):
    name: str
    properties: dict[str, Any]
    sku: dict[str, Any] | None = None
    tags: dict[str, str] = Field(default_factory=dict)
    kind: str | None = None


class OnlineEndpoint(Model):
    name: str
    auth_mode: str
    location: str = ""
    traffic: dict[str, int] = Field(default_factory=dict)
    description: str | None = None
    tags: dict[str, str] = Field(default_factory=dict)
    identity: dict[str, Any] | None = None
    kind: str | None = None
    # The system-assigned identity's principal: a redeployed endpoint gets a new one.
    principal_id: str | None = None
    # The endpoint's properties to PUT back, read-only fields removed.
    create_properties: dict[str, Any] = Field(default_factory=dict)
    deployments: list[Deployment] = Field(default_factory=list)

    @property
    def mirror_traffic(self) -> dict[str, int]:
        """Percent of live traffic copied to each deployment (shadow testing); Azure accepts it only for deployments
        that exist, as it does traffic."""
        return dict(self.create_properties.get("mirrorTraffic") or {})


def deployment_names(endpoint: OnlineEndpoint) -> list[str]:
    """An endpoint's deployments, in an order that does not depend on how they were created."""
    return sorted(d.name for d in endpoint.deployments)


class BatchEndpoint(Model):
    name: str
    auth_mode: str = ""
    location: str = ""
    deployments: list[Deployment] = Field(default_factory=list)


class Datastore(Model):
    """A datastore's registration, credentials described by type only."""

    name: str
    datastore_type: str
    is_default: bool = False
    account_name: str | None = None
    container_name: str | None = None
    file_share_name: str | None = None
    endpoint: str | None = None
    protocol: str | None = None
    subscription_id: str | None = None
    resource_group: str | None = None
    credentials_type: str = "None"
    description: str | None = None
    tags: dict[str, str] = Field(default_factory=dict)
    # The registration's properties without any secret: what a re-registration PUTs, secrets added just in time.
    properties: dict[str, Any] = Field(default_factory=dict)

    def points_at(self, subscription: str, resource_group: str) -> bool:
        return (self.subscription_id or "").lower() == subscription.lower() and (self.resource_group or "").lower() == resource_group.lower()


class RoleAssignment(Model):
    name: str
    scope: str
    role_definition_id: str
    principal_id: str
    principal_type: str = "User"
    description: str = ""
    # ABAC: a condition on the grant and its version ("2.0"), kept when the grant is re-created.
    condition: str | None = None
    condition_version: str | None = None

    def key(self) -> tuple[str, str]:
        """What makes two assignments the same grant, wherever they live."""
        return (self.principal_id.lower(), self.role_definition_id.rsplit("/", 1)[-1].lower())

    @property
    def grant(self) -> str:
        """The same key as one string: how a manifest names this grant."""
        return " as ".join(self.key())


def assignment_name(scope: str, role_definition_id: str, principal_id: str) -> str:
    """A deterministic GUID, so re-creating the same grant twice is one grant."""
    role = role_definition_id.rsplit("/", 1)[-1].lower()
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"{scope.lower()}|{role}|{principal_id.lower()}"))


def _segment(resource_id: str, index: int) -> str:
    """A segment of an ARM id by position (2: the subscription, 4: the resource group); '' when it is shorter."""
    parts = resource_id.split("/")
    return parts[index] if len(parts) > index else ""


def extension_scope(resource_id: str, resource_type: str) -> str:
    """The scope an extension resource (a role assignment, a lock) applies to: its id up to ``/providers/<type>/``."""
    at = resource_id.lower().rfind(f"/providers/{resource_type.lower()}/")
    return resource_id[:at] if at > 0 else "/"


class PrivateEndpointConnection(Model):
    name: str
    id: str
    private_endpoint_id: str
    status: str
    description: str = ""

    @property
    def endpoint_subscription(self) -> str:
        return _segment(self.private_endpoint_id, 2)

    @property
    def endpoint_resource_group(self) -> str:
        return _segment(self.private_endpoint_id, 4)


class ProviderState(Model):
    namespace: str
    registration_state: str

    @property
    def registered(self) -> bool:
        return self.registration_state == "Registered"


class Job(Model):
    name: str
    status: str
    job_type: str = "Command"
    compute: str | None = None
    experiment: str = ""
    display_name: str = ""
    tags: dict[str, str] = Field(default_factory=dict)
    properties: dict[str, str] = Field(default_factory=dict)
    # A failed job's error as run history reports it (code and message): the message says what happened.
    error_code: str | None = None
    error_message: str | None = None

    @property
    def active(self) -> bool:
        return self.status not in TERMINAL_JOB_STATES


# Azure ML's JobStatus (REST spec machinelearningservices, JobStatus enum): only these three end a job.
# Everything else (NotStarted, Queued, Running, NotResponding, Paused, Unknown, ...) counts as active,
# so a state Azure adds later, or one we never saw, keeps a workspace busy rather than free.
TERMINAL_JOB_STATES = frozenset({"Completed", "Failed", "Canceled"})


class ManagementLock(Model):
    """A Microsoft.Authorization/locks lock: CanNotDelete or ReadOnly, applying to its scope and below."""

    id: str
    name: str
    level: str
    notes: str = ""

    @property
    def scope(self) -> str:
        return extension_scope(self.id, "Microsoft.Authorization/locks")


class Permission(Model):
    """One entry of the Permissions API: what the caller may and may not do at a scope."""

    actions: list[str] = Field(default_factory=list)
    not_actions: list[str] = Field(default_factory=list)


class PolicyDenial(Model):
    """A policy assignment that would deny creating a resource of ``resource_type`` at a scope."""

    resource_type: str
    policy_assignment_id: str
    policy_definition_id: str = ""


# A checkpoint folder is complete once the training script wrote this marker in it, last (the contract: amlops.training).
COMPLETE_MARKER = "_COMPLETE"


class Checkpoint(Model):
    path: str  # blob prefix of the checkpoint folder, ending in '/'
    step: int
    complete: bool
    files: int = 0
    written_at: str = ""


# -- a snapshot's raw reads: bodies exactly as ARM returned them (amlops.azure.reads fills them, amlops.snapshot judges)


@dataclass
class SubscriptionReads:
    id: str
    tenant_id: str
    providers: dict[str, str]  # namespace -> registrationState
    readable: bool = True  # False: the caller may not read it (403); the rest of the snapshot went on


@dataclass
class WorkspaceReads:
    """Bodies as ARM returned them, for everything a move of ``workspace`` touches."""

    workspace: dict[str, Any]
    subscriptions: list[SubscriptionReads] = field(default_factory=list)
    resource_groups: list[dict[str, Any]] = field(default_factory=list)
    resources: list[dict[str, Any]] = field(default_factory=list)  # associated resources, attached clusters
    computes: list[dict[str, Any]] = field(default_factory=list)
    online_endpoints: list[dict[str, Any]] = field(default_factory=list)
    deployments: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # endpoint name -> deployments
    batch_deployments: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # batch endpoint name -> deployments
    batch_endpoints: list[dict[str, Any]] = field(default_factory=list)
    datastores: list[dict[str, Any]] = field(default_factory=list)
    connections: list[dict[str, Any]] = field(default_factory=list)
    schedules: list[dict[str, Any]] = field(default_factory=list)
    assets: list[dict[str, Any]] = field(default_factory=list)  # containers and versions
    role_assignments: list[dict[str, Any]] = field(default_factory=list)  # at every scope the move touches
    locks: list[dict[str, Any]] = field(default_factory=list)
    target_resources: list[dict[str, Any]] = field(default_factory=list)  # what the target resource group holds
    permissions: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # scope -> the Permissions API's entries
    policy_assignments: list[dict[str, Any]] = field(default_factory=list)  # that apply in the target
    policy_definitions: dict[str, dict[str, Any]] = field(default_factory=dict)  # lower-cased id -> definition
    policy_scope: str | None = None  # where the assignments were listed: the target group, or its subscription
    unread: list[dict[str, str]] = field(default_factory=list)  # {"what", "why", "unknown"}: 403s the snapshot went past
    target_subscription: str | None = None
    target_resource_group: str | None = None
