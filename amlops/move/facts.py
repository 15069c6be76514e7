"""The facts of a workspace move: what the operator asked for (MoveRequest), what the workspace holds (Inventory)
and everything else the move's decisions read (MoveFacts: target, permissions, policies, locks, directory, what is
running). Data only: tasks/move.read_facts reads them in one go; amlops.move.preflight and amlops.move.plan judge them.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Literal

from pydantic import Field

from amlops.approvals import AllowList
from amlops.errors import InvalidInput
from amlops.models import (
    BatchEndpoint,
    ComputeSpec,
    Datastore,
    Job,
    ManagementLock,
    Model,
    OnlineEndpoint,
    Permission,
    PolicyDenial,
    PrivateEndpointConnection,
    ResourceId,
    RoleAssignment,
    Workspace,
    check_resource_group,
    check_subscription,
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
    dry_run: bool = Field(default=False, description="plan only: read, refuse or plan, and change nothing")

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


class MoveApprovals(Model):
    """How a move asks people: whether its plan needs a person, unattended answers, and how long to wait."""

    require_approval: bool = True
    approve_plan_as: str | None = Field(default=None, description="unattended: approve the plan as this person (needs confirm_workspace)")
    confirm_workspace: str | None = Field(default=None, description="the workspace name, typed exactly, to confirm approve_plan_as")
    approve_private_endpoints_as: str | None = Field(default=None, description="unattended: approve every new Pending connection as this person")
    timeout_seconds: int = Field(default=3600, ge=1, description="seconds to wait for a person")
    poll_seconds: int = Field(default=10, ge=1, description="seconds between checks for an answer")


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
    # Schedules already disabled: left disabled, and verified so.
    disabled_job_schedules: list[str] = Field(default_factory=list)
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


def required_providers(inventory: Inventory) -> list[str]:
    needed = list(REQUIRED_PROVIDERS)
    if any(c.compute_type in ("Kubernetes", "AKS") for c in inventory.computes):
        needed.append(KUBERNETES_PROVIDER)
    return needed


def power_state(state: str | None) -> str | None:
    """A compute instance's power as a person means it: on (and billing) or off. Transitional states count as
    where they are heading; None for compute without power (clusters, attached)."""
    if state is None:
        return None
    if state in ("Stopped", "Stopping"):
        return "Stopped"
    return "Running"


class MoveFacts(Model):
    """Everything the move's decisions read, in one read (tasks/move.read_facts): the refusals
    (amlops.move.preflight.refusals) and the plan (amlops.move.plan.build_plan) both come from it."""

    inventory: Inventory
    source_tenant: str = ""
    target_tenant: str = ""
    target_group_location: str | None = None  # None: the target group does not exist yet (the move creates it)
    unregistered_providers: list[str] = Field(default_factory=list)
    databricks_links: list[str] = Field(default_factory=list)
    source_locks: list[ManagementLock] = Field(default_factory=list)
    target_locks: list[ManagementLock] = Field(default_factory=list)
    source_permissions: list[Permission] = Field(default_factory=list)
    target_permissions: list[Permission] | None = None  # None: not asked (the Permissions API needs an existing group)
    target_resources: list[str] = Field(default_factory=list)
    policy_denials: list[PolicyDenial] = Field(default_factory=list)
    other_workspaces: list[Workspace] = Field(default_factory=list)  # the source subscription's, for shared resources
    missing_roles: list[str] = Field(default_factory=list)  # role definition GUIDs the target subscription lacks
    region_instances: dict[str, str] = Field(default_factory=dict)  # instance name (lower) -> the workspace holding it
    labeling_running: list[str] = Field(default_factory=list)
    web_services: list[str] = Field(default_factory=list)
    profiling_runs: list[str] = Field(default_factory=list)
    active_jobs: list[Job] = Field(default_factory=list)
    endpoint_requests: dict[str, int | None] = Field(default_factory=dict)  # online endpoint -> requests in the window
    window_minutes: int = 0

    @property
    def target_exists(self) -> bool:
        return self.target_group_location is not None
