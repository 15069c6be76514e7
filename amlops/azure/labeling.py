"""Labeling projects of a workspace (labelingJobs, machinelearningservices REST API 2023-04-01-preview)."""

from __future__ import annotations

from amlops.azure import rest
from amlops.azure.clients import Clients
from amlops.models import ResourceId

LABELING_API = "2023-04-01-preview"
NOT_RUNNING = {"Completed", "Failed", "Canceled", "Paused", "NotResponding"}


def running_projects(clients: Clients, workspace: ResourceId) -> list[str]:
    """Labeling projects that are labeling now (JobStatus neither ended nor Paused)."""
    found = rest.list_children(clients, workspace, "labelingJobs", api_version=LABELING_API)
    return sorted(b["name"] for b in found if (b.get("properties") or {}).get("status") not in NOT_RUNNING)
