"""Tasks of the approval flows: the private endpoint connections a person or a rule decides about."""

from __future__ import annotations

from prefect import task

from amlops.approvals import Decision
from amlops.azure import network
from amlops.models import PrivateEndpointConnection, ResourceId
from tasks.common import TASK_DEFAULTS, clients


@task(name="pending_connections", **TASK_DEFAULTS)
def pending_connections(workspace: ResourceId) -> list[PrivateEndpointConnection]:
    return [p for p in network.list_connections(clients(), workspace) if p.status == "Pending"]


@task(name="act_on_connection", **TASK_DEFAULTS)
def act_on_connection(workspace: ResourceId, decision: Decision) -> Decision:
    """Read the connection again and change it only if it is still Pending; report anything that moved."""
    c = clients()
    current = network.get_connection(c, workspace, decision.connection)
    if current.status != "Pending":
        return decision.model_copy(update={"outcome": f"skipped: it became {current.status} meanwhile"})
    status = "Approved" if decision.verdict == "approve" else "Rejected"
    note = f"{status} by {decision.decided_by} via {decision.via}: {decision.reason}"[:140]
    network.set_connection_status(c, workspace, decision.connection, status, note)
    return decision.model_copy(update={"outcome": status})
