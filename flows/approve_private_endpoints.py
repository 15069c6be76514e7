"""approve-private-endpoints: get each Pending private endpoint connection of a workspace decided.

Allow-listed connections are approved at once; a person decides the rest in a typed form. Each
connection is read again before it is changed; a timeout decides nothing.
"""

from __future__ import annotations

from prefect import flow
from prefect.artifacts import create_markdown_artifact

from amlops.approvals import AllowList, Decision
from amlops.errors import ApprovalTimedOut
from amlops.models import ResourceId
from flows.approvals import decide_private_endpoints


@flow(name="approve-private-endpoints", log_prints=True)
def approve_private_endpoints(workspace: str, allow_list: AllowList | None = None, timeout_seconds: int = 3600, poll_seconds: int = 10) -> list[Decision]:
    ws = ResourceId.parse(workspace).require_workspace()
    try:
        return decide_private_endpoints(ws, allow_list or AllowList(), timeout_seconds, poll_seconds)
    except ApprovalTimedOut as err:
        undecided = ", ".join(d["undecided"] for d in err.details) or "none"
        create_markdown_artifact(key="private-endpoints-undecided", markdown=f"**Timed out** after {timeout_seconds} s: nothing was changed.\n\nLeft Pending: {undecided}")
        raise
