"""The manifest of a move: its request, the facts it was planned from, the approved plan, and every step and item
done so far, persisted before anything is deleted (amlops.manifests). And the one decision a move in flight needs:
what to do once moveResources may have been sent (after_move_sent)."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import Field

from amlops.approvals import Decision
from amlops.models import Model
from amlops.move.facts import Inventory, MoveRequest
from amlops.move.plan import MovePlan


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
    plan: MovePlan  # what runs: the plan a person approved (its digest in approved_digest)
    approved_digest: str = ""
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

    def destroyed_anything(self) -> bool:
        """Whether any step that changes the source has begun: until then the plan may still be read again."""
        begun = (Step.PAUSE_JOB_SCHEDULES, Step.DELETE_COMPUTE, Step.DELETE_ENDPOINTS)
        return any(self.done(s) or self.items_done.get(s) for s in begun) or self.move_sent

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
        return self.model_copy(
            update={"status": "restored", "steps_done": [Step.SNAPSHOT], "items_done": {}, "move_sent": False, "move_operation": ""}
        )

    @property
    def resources(self) -> list[str]:
        """What Azure moves: the plan's."""
        return self.plan.move


def replaced_identities(manifest: MoveManifest) -> dict[str, str]:
    """The plan's replaced identities under the name each resource lives under after the rebuild (a compute may have
    been re-created under a new name): "compute NAME" / "online endpoint NAME" -> the old principal."""
    renamed = {f"compute {old}": f"compute {new}" for old, new in manifest.renamed_computes.items()}
    return {renamed.get(owner, owner): principal for owner, principal in manifest.plan.replaced_identities.items()}


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
