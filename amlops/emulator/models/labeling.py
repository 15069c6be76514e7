"""What the workspace-move documentation lists as unsupported besides compute and endpoints: labeling projects
that are running and deployed (v1) web services.

- Labeling jobs: ``workspaces/{ws}/labelingJobs/{id}`` (machinelearningservices REST specification, 2023-04-01-preview,
  LabelingJobs_List / Get / CreateOrUpdate / Pause / Resume; properties.jobType "Labeling", properties.status a
  JobStatus, progressMetrics, projectId).
- Web services (ACI/AKS deployments of Azure ML v1): listed by the model management service on the workspace's
  regional host, ``/modelmanagement/v1.0/subscriptions/{sub}/resourceGroups/{rg}/providers/
  Microsoft.MachineLearningServices/workspaces/{ws}/services`` (azureml-core's Webservice.list; the Model
  Management REST API), each with name, computeType (ACI, AKS) and state.
"""

from __future__ import annotations

from typing import Any

from amlops.emulator import ids
from amlops.emulator.errors import bad_request
from amlops.emulator.models.common import (
    WORKSPACE_TYPE,
    arm_body,
    ensure_writable,
    get_child,
    list_children,
    require_workspace,
    writable_child,
)
from amlops.emulator.state import State

LABELING = "labelingJobs"
SERVICES = "services"
# JobStatus values in which a labeling project is not labeling: ended, or paused by a person.
NOT_RUNNING = {"Completed", "Failed", "Canceled", "Paused", "NotResponding"}


def put_labeling_job(state: State, workspace_id: str, name: str, body: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    workspace, lid = writable_child(state, workspace_id, LABELING, name)
    props = dict((body or {}).get("properties") or {})
    if props.get("jobType", "Labeling") != "Labeling":
        raise bad_request("A labeling job's properties.jobType is 'Labeling'.", "UserError")
    props["jobType"] = "Labeling"
    previous = state.store.get(lid)
    props.setdefault("status", (previous or {}).get("properties", {}).get("status", "NotStarted"))
    props.setdefault("projectId", state.new_id())
    props.setdefault("createdDateTime", state.clock.iso())
    job = arm_body(state, lid, f"{WORKSPACE_TYPE}/{LABELING}", props, previous=previous)
    return state.store.put(job), previous is None


def get_labeling_job(state: State, workspace_id: str, name: str) -> dict[str, Any]:
    return get_child(state, workspace_id, LABELING, name, "Labeling job")


def list_labeling_jobs(state: State, workspace_id: str) -> list[dict[str, Any]]:
    return list_children(state, workspace_id, LABELING)


def set_labeling_status(state: State, workspace_id: str, name: str, action: str) -> dict[str, Any]:
    """LabelingJobs_Pause and LabelingJobs_Resume."""
    job = get_labeling_job(state, workspace_id, name)
    ensure_writable(state, job["id"])
    job["properties"]["status"] = "Paused" if action == "pause" else "Running"
    return job


def running_labeling_jobs(state: State, workspace_id: str) -> list[str]:
    return sorted(j["name"] for j in state.store.children(workspace_id, LABELING) if j["properties"].get("status") not in NOT_RUNNING)


def put_service(state: State, workspace_id: str, name: str, body: dict[str, Any]) -> dict[str, Any]:
    """A deployed v1 web service, as a scenario declares it."""
    workspace = require_workspace(state, workspace_id)
    sid = f"{workspace['id']}/{SERVICES}/{name}"
    compute_type = (body or {}).get("computeType", "ACI")
    if compute_type not in ("ACI", "AKS", "AMLCOMPUTE", "IOT", "CUSTOM"):
        raise bad_request(f"Unknown web service computeType '{compute_type}'.", "BadArgument")
    service = {
        "id": sid, "name": name, "type": f"{WORKSPACE_TYPE}/{SERVICES}",
        "properties": {"computeType": compute_type, "state": (body or {}).get("state", "Healthy"), "createdTime": state.clock.iso(),
                       "scoringUri": f"http://{name}.{ids.name_of(workspace['id'])}.{workspace['location']}.azurecontainer.io/score"},
    }
    return state.store.put(service)


def service_view(service: dict[str, Any]) -> dict[str, Any]:
    """A web service as the model management service lists it (flat, not an ARM resource)."""
    return {"id": service["name"], "name": service["name"], **service["properties"]}


def list_services(state: State, workspace_id: str) -> list[dict[str, Any]]:
    return [service_view(s) for s in list_children(state, workspace_id, SERVICES)]


def delete_service(state: State, workspace_id: str, name: str) -> bool:
    _, sid = writable_child(state, workspace_id, SERVICES, name)
    return state.store.delete(sid) is not None
