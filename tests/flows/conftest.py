"""What the flow tests share: the demo move's arguments and the training script's pace. Their fixtures (the
session's Prefect server, `flows_env`, `training`, the warm `amlops`) live in tests/conftest.py, defined once:
re-exported from here into other packages, each package had a Prefect server of its own in the same worker."""

from __future__ import annotations

from typing import Any

from amlops.move import MoveApprovals, MoveRequest
from tests.conftest import TARGET_SUB, WS_ID


def move_args(**changes: Any) -> dict[str, Any]:
    """The demo move, approvals answered by policy flags; ``changes`` name fields of either parameter (MoveRequest,
    MoveApprovals) flat, as an operator would."""
    args: dict[str, Any] = {
        "source": WS_ID,
        "target_subscription": TARGET_SUB,
        "target_resource_group": "ml-moved",
        "approve_plan_as": "alice",
        "confirm_workspace": "ml-prod-ws",
        "approve_private_endpoints_as": "alice",
        "poll_seconds": 1,
    }
    args.update(changes)
    approvals = {k: args.pop(k) for k in list(args) if k in MoveApprovals.model_fields}
    return {"request": MoveRequest(**args), "approvals": MoveApprovals(**approvals)}


# 20 steps a second, a checkpoint every second (20 steps), 100 steps in all: 5 s of training.
SCRIPT = {"AMLOPS_STEPS_PER_SECOND": "20", "AMLOPS_CHECKPOINT_EVERY": "1", "AMLOPS_TOTAL_STEPS": "100"}
