"""Deployed v1 web services (ACI/AKS) of a workspace, as the model management service on the workspace's
regional host lists them: ``/modelmanagement/v1.0{workspace}/services`` (azureml-core's Webservice.list)."""

from __future__ import annotations

from amlops.azure import rest
from amlops.azure.clients import Clients
from amlops.models import ResourceId


def list_web_services(clients: Clients, workspace: ResourceId) -> list[str]:
    """``name (computeType)`` of each deployed web service."""
    body = rest.ml_data_plane(clients, workspace, f"/modelmanagement/v1.0{workspace.require_workspace()}/services") or {}
    return sorted(f"{s['name']} ({s.get('computeType', '?')})" for s in body.get("value", []))
