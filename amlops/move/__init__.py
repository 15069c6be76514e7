"""The workspace move as data and pure decisions, read in this order:

- facts.py     what the operator asked for and what the move reads, once (MoveRequest, Inventory, MoveFacts)
- preflight.py every refusal, from the facts (refusals)
- plan.py      the plan: one pure function of the facts returning typed items, and its digest a person approves
- manifest.py  the approved plan and what is done of it, persisted before anything is deleted; a move in flight
- verify.py    each item's own check against the moved workspace

Nothing here talks to Azure or Prefect: tasks/move.py reads and acts, flows/move_workspace.py orders and records.
"""

from amlops.move.facts import (
    KUBERNETES_PROVIDER,
    REQUIRED_PROVIDERS,
    EtagPolicy,
    Inventory,
    MoveApprovals,
    MoveFacts,
    MoveRequest,
    Problem,
    power_state,
    required_providers,
    resources_to_move,
)
from amlops.move.manifest import STEPS, InFlight, Location, MoveManifest, OperationEnd, Step, after_move_sent, replaced_identities
from amlops.move.plan import MovePlan, build_plan, changes, plan_markdown
from amlops.move.preflight import quiesce_problems, refusals
from amlops.move.verify import Check, checks_markdown, verify

__all__ = [
    "KUBERNETES_PROVIDER", "REQUIRED_PROVIDERS", "STEPS", "Check", "EtagPolicy", "InFlight", "Inventory", "Location",
    "MoveApprovals", "MoveFacts", "MoveManifest", "MovePlan", "MoveRequest", "OperationEnd", "Problem", "Step", "after_move_sent",
    "build_plan", "changes", "checks_markdown", "plan_markdown", "power_state", "quiesce_problems", "refusals",
    "replaced_identities", "required_providers", "resources_to_move", "verify",
]  # fmt: skip
