"""Jobs run a simulated training script that writes checkpoints to Azurite on the emulator's clock."""

from __future__ import annotations

import uuid

from azure.storage.blob import ContainerClient

from amlops.azure import jobs, storage
from amlops.models import ResourceId
from amlops.training import group_checkpoints, latest_complete
from tests.conftest import AZURITE_KEY, Env


def _setup(env: Env, azurite: str) -> tuple[ResourceId, str, ContainerClient]:
    container = f"ckpt-{uuid.uuid4().hex[:8]}"
    spec = env.load_demo()
    spec["workspaces"][0]["datastores"].append({"name": "checkpoints", "properties": {"datastoreType": "AzureBlob", "accountName": "devstoreaccount1", "containerName": container}})
    env.control.load(spec)
    env.control.settings(storage_url=azurite, storage_key=AZURITE_KEY, job_queue_seconds=1)
    ws = ResourceId.parse(spec["workspaces"][0]["id"])
    return ws, container, storage.container(env.clients, "devstoreaccount1", container)


def _latest_step(client: ContainerClient) -> int | None:
    latest = latest_complete(group_checkpoints("runs/forecast", storage.list_blobs(client, "runs/forecast")))
    return latest.step if latest else None


def _submit(env: Env, ws: ResourceId, name: str, resume: int = 0) -> None:
    variables = {"AMLOPS_CHECKPOINT_DIR": "azureml://datastores/checkpoints/paths/runs/forecast/", "AMLOPS_CHECKPOINT_EVERY": "10", "AMLOPS_RESUME_STEP": str(resume), "AMLOPS_TOTAL_STEPS": "100"}
    jobs.submit_command_job(env.clients, ws, name, "python train.py", "azureml:forecast-env:1", "gpu-cluster", environment_variables=variables)


def test_a_running_job_writes_checkpoints_and_completes(env: Env, azurite: str) -> None:
    ws, _, client = _setup(env, azurite)
    _submit(env, ws, "train-a")
    env.control.advance(1 + 35)  # queued 1 s, then 35 s of training at 1 step/s
    assert jobs.get_job(env.clients, ws, "train-a").status == "Running"
    assert [c.step for c in group_checkpoints("runs/forecast", storage.list_blobs(client, "runs/forecast"))] == [10, 20, 30]
    env.control.advance(100)
    job = jobs.get_job(env.clients, ws, "train-a")
    assert job.status == "Completed" and job.properties["endTimeUtc"] > job.properties["startTimeUtc"]
    assert _latest_step(client) == 100


def test_a_scheduled_preemption_leaves_a_partial_checkpoint(env: Env, azurite: str) -> None:
    ws, _, client = _setup(env, azurite)
    env.control.schedule_job_end("train-b*", "preempt", after=25, partial=True)
    _submit(env, ws, "train-b-001")
    env.control.advance(60)
    job = jobs.get_job(env.clients, ws, "train-b-001")
    assert job.status == "Failed" and "PreemptionError" in (job.error_message or "")
    found = group_checkpoints("runs/forecast", storage.list_blobs(client, "runs/forecast"))
    assert [(c.step, c.complete) for c in found] == [(10, True), (20, True), (30, False)]
    _submit(env, ws, "train-b-002", resume=20)  # the schedule was for one job only
    env.control.advance(200)
    assert jobs.get_job(env.clients, ws, "train-b-002").status == "Completed"
    assert _latest_step(client) == 100
