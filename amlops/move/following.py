"""What one look at a workspace's computes says of each compute the move is deleting or building: pure.

The move deletes and re-creates a platform's computes by the hundred. Each is sent once, then followed by listing
the workspace (tasks/move_computes.py), not by a thread and a poll each: this decides, per compute and per list,
whether it is done, still under way, needs its stop sent (an instance restored Stopped is stopped as soon as it is
up), or failed.
"""

from __future__ import annotations

from typing import Literal

from amlops.fleet import power_action_failed
from amlops.models import ComputeSpec
from amlops.move.facts import power_state

Want = Literal["gone", "built", "stopped"]
Next = Literal["wait", "stop", "done", "failed"]

# Compute instance states on the way to another (ComputeInstanceState): Azure refuses start/stop in them, and a new
# instance passes through SettingUp after provisioning succeeded, while its creation script runs.
PASSING = ("Creating", "SettingUp", "UserSettingUp", "Starting", "Stopping", "Restarting", "Deleting")


def next_step(want: Want, current: ComputeSpec | None, stop_sent: bool = False) -> Next:
    """``current``: the compute as the latest list shows it (None: not listed)."""
    if want == "gone":
        if current is None:
            return "done"
        # Azure marks a compute Deleting as it accepts the DELETE; back to anything else, the deletion failed.
        return "wait" if current.provisioning_state == "Deleting" else "failed"
    if current is None or current.provisioning_state in ("Failed", "Canceled"):
        return "failed"
    if current.provisioning_state != "Succeeded" or current.state in PASSING:
        return "wait"
    if want == "stopped" and power_state(current.state) != "Stopped":
        if not stop_sent:
            return "stop"
        return "failed" if power_action_failed(current.last_operation, "stop") else "wait"
    return "done"
