"""Tasks of train-with-retries: check, find the lineage's attempts, find the checkpoint, submit, read."""

from __future__ import annotations

from prefect import task

from amlops.azure import computes, datastores, jobs, storage, workspaces
from amlops.errors import Conflict, InvalidInput, NotFound
from amlops.models import Job, ResourceId
from amlops.training import ATTEMPT_TAG, ENDED_TAG, LINEAGE_TAG, Checkpoint, CheckpointLocation, group_checkpoints, latest_complete
from tasks.common import TASK_DEFAULTS, clients


@task(name="check_training_inputs", **TASK_DEFAULTS)
def check_training_inputs(workspace: ResourceId, computes_needed: list[str], environment: str, checkpoint: CheckpointLocation) -> tuple[str, str]:
    """Refuse before submitting anything: unknown compute, missing environment, a path outside any datastore.
    Returns the checkpoint datastore's storage account and container."""
    c = clients()
    workspaces.get_workspace(c, workspace)
    for name in computes_needed:
        try:
            computes.get_compute(c, workspace, name)
        except NotFound as err:
            raise InvalidInput(f"Compute '{name}' does not exist in {workspace.name}; create it or name another.") from err
    if not workspaces.environment_exists(c, workspace, environment):
        raise InvalidInput(f"Environment '{environment}' is not registered in {workspace.name}.")
    try:
        store = datastores.get_datastore(c, workspace, checkpoint.datastore)
    except NotFound as err:
        raise InvalidInput(f"Checkpoint path {checkpoint.uri()} is outside any datastore: '{checkpoint.datastore}' is not registered.") from err
    if not store.container_name:
        raise InvalidInput(f"Datastore '{checkpoint.datastore}' is not a blob container; checkpoints need one.")
    return store.account_name or "", store.container_name


@task(name="lineage_jobs", **TASK_DEFAULTS)
def lineage_jobs(workspace: ResourceId, lineage: str) -> list[Job]:
    """Every attempt of a lineage, oldest first, found by its tag: what a restarted flow continues from."""
    found = [j for j in jobs.list_jobs(clients(), workspace, view="All") if j.tags.get(LINEAGE_TAG) == lineage]
    return sorted(found, key=lambda j: int(j.tags.get(ATTEMPT_TAG, "0")))


@task(name="find_checkpoint", **TASK_DEFAULTS)
def find_checkpoint(account: str, container: str, checkpoint: CheckpointLocation) -> Checkpoint | None:
    client = storage.container(clients(), account, container)
    latest = latest_complete(group_checkpoints(checkpoint.path.strip("/"), storage.list_blobs(client, checkpoint.path)))
    return latest.model_copy(update={"written_at": storage.completed_at(client, latest)}) if latest else None


@task(name="submit_attempt", **TASK_DEFAULTS)
def submit_attempt(
    workspace: ResourceId,
    name: str,
    command: str,
    environment: str,
    compute: str,
    tags: dict[str, str],
    variables: dict[str, str],
    instance_count: int,
    experiment: str,
    inputs: dict[str, str] | None = None,
) -> Job:
    """Submit under the attempt's deterministic name; one already there (a crash after submitting) is followed, not duplicated."""
    c = clients()
    try:
        return jobs.get_job(c, workspace, name)
    except NotFound:
        pass
    try:
        return jobs.submit_command_job(
            c, workspace, name, command, environment, compute, experiment=experiment, tags=tags, instance_count=instance_count, environment_variables=variables, inputs=inputs
        )
    except Conflict:
        return jobs.get_job(c, workspace, name)


@task(name="read_job", **TASK_DEFAULTS)
def read_job(workspace: ResourceId, name: str) -> Job:
    return jobs.get_job(clients(), workspace, name)


@task(name="give_up_queued", **TASK_DEFAULTS)
def give_up_queued(workspace: ResourceId, name: str, reason: str) -> Job:
    """Cancel an attempt stuck in Queued, saying why on the job itself, so a restarted flow counts it alike."""
    c = clients()
    jobs.set_tags(c, workspace, name, {ENDED_TAG: reason})
    jobs.cancel_job(c, workspace, name)
    return jobs.get_job(c, workspace, name)
