"""Jobs: submit, read, list the active ones, cancel."""

from __future__ import annotations

from typing import Any

from amlops.azure import operations, rest
from amlops.azure.clients import Clients
from amlops.azure.errors import azure_errors
from amlops.azure.retry import Kind
from amlops.models import Job, ResourceId


def to_job(body: dict[str, Any]) -> Job:
    props = body.get("properties") or {}
    extra = props.get("properties") or {}
    compute = props.get("computeId")
    return Job(
        name=body["name"],
        status=props.get("status", ""),
        job_type=props.get("jobType", ""),
        compute=compute.rstrip("/").rsplit("/", 1)[-1] if compute else None,
        experiment=props.get("experimentName") or "",
        display_name=props.get("displayName") or "",
        tags=props.get("tags") or {},
        properties={k: str(v) for k, v in extra.items()},
    )


JOBS = rest.Collection("jobs", to_job)


def get_job(clients: Clients, workspace: ResourceId, name: str) -> Job:
    """The job from ARM; a failed one with its error from run history, where Azure ML reports it."""
    job = JOBS.get(clients, workspace, name)
    if job.status != "Failed":
        return job
    error = ((run_details(clients, workspace, name).get("error") or {}).get("error")) or {}
    return job.model_copy(update={"error_code": error.get("code"), "error_message": error.get("message")})


def run_details(clients: Clients, workspace: ResourceId, name: str) -> dict[str, Any]:
    """Run history's RunDetails (runhistory REST API, Runs_GetDetails), where Azure ML reports a run's error."""
    return rest.ml_data_plane(clients, workspace, f"/history/v1.0{workspace.require_workspace()}/runs/{name}/details") or {}


def list_jobs(clients: Clients, workspace: ResourceId, view: str = "ActiveOnly") -> list[Job]:
    """Jobs not archived (ActiveOnly, Azure's default), or All."""
    return JOBS.list(clients, workspace, {"listViewType": view})


def active_jobs(clients: Clients, workspace: ResourceId) -> list[Job]:
    return [j for j in list_jobs(clients, workspace) if j.active]


def submit_command_job(
    clients: Clients,
    workspace: ResourceId,
    name: str,
    command: str,
    environment: str,
    compute: str,
    *,
    experiment: str = "amlops",
    tags: dict[str, str] | None = None,
    instance_count: int = 1,
    environment_variables: dict[str, str] | None = None,
    inputs: dict[str, str] | None = None,
) -> Job:
    """Submit a command job under a name the caller chose (through MLClient), so resubmitting the same name is safe."""
    from azure.ai.ml import Input
    from azure.ai.ml import command as command_job

    ml = clients.ml(workspace.subscription, workspace.resource_group, workspace.name)
    job = command_job(
        name=name,
        command=command,
        environment=environment,
        compute=compute,
        experiment_name=experiment,
        tags=tags or {},
        instance_count=instance_count,
        environment_variables=environment_variables or {},
        # A data reference (azureml:..., a URI) becomes a folder input; anything else a literal.
        inputs={k: Input(type="uri_folder", path=v) if v.startswith("azureml:") or "://" in v else v for k, v in (inputs or {}).items()},
    )
    with azure_errors(Kind.ACTION):  # a submission: after a lost answer the caller looks for the job by name first
        created = ml.jobs.create_or_update(job)
    return get_job(clients, workspace, created.name)


def cancel_job(clients: Clients, workspace: ResourceId, name: str) -> None:
    operations.act(clients, JOBS.path(workspace, name), "cancel", rest.ML_API, kind=Kind.WRITE)  # asking twice to cancel ends the same: canceled once


def set_tags(clients: Clients, workspace: ResourceId, name: str, tags: dict[str, str]) -> None:
    """Add tags to a submitted job: Azure ML lets a job change its tags, description and display name after
    submission (a PUT of the same job)."""
    body = rest.get_child(clients, workspace, "jobs", name)
    props = dict(body.get("properties") or {})
    props["tags"] = {**(props.get("tags") or {}), **tags}
    rest.send(clients, workspace.subscription, "PUT", JOBS.path(workspace, name), rest.ML_API, {"properties": props}, kind=Kind.WRITE)
