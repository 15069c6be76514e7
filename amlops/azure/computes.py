"""Computes: read exactly, re-create exactly, delete or detach, start, stop, idle shutdown."""

from __future__ import annotations

from typing import Any

from amlops.azure import operations, rest
from amlops.azure.clients import Clients
from amlops.azure.retry import Kind
from amlops.models import READ_ONLY_COMPUTE, READ_ONLY_INNER, ComputeSpec, Removal, ResourceId

# Fields Azure adds to each compute-instance schedule (ComputeStartStopSchedule in the machinelearningservices REST
# specification: id and provisioningStatus are readOnly): never compared, never sent back.
SCHEDULE_READ_ONLY = ("id", "provisioningStatus")


def _without_schedule_ids(inner: dict[str, Any]) -> dict[str, Any]:
    schedules = (inner.get("schedules") or {}).get("computeStartStop")
    if not schedules:
        return inner
    clean = [{k: v for k, v in s.items() if k not in SCHEDULE_READ_ONLY} for s in schedules]
    return {**inner, "schedules": {**inner["schedules"], "computeStartStop": clean}}


def to_spec(body: dict[str, Any]) -> ComputeSpec:
    props = body.get("properties") or {}
    inner = _without_schedule_ids(props.get("properties") or {})
    ssh = inner.get("sshSettings") or {}
    scale = inner.get("scaleSettings") or {}
    # No copies: ``body`` is parsed JSON that nobody else holds, and a ComputeSpec is frozen and never changed in
    # place (create bodies are built anew); deep copies were a tenth of the move's CPU at x60 (the rebuild lists
    # every compute every 10 s of Azure's time).
    create = {k: v for k, v in props.items() if k not in READ_ONLY_COMPUTE and v is not None}
    if isinstance(inner, dict) and inner:
        create["properties"] = {k: v for k, v in inner.items() if k not in READ_ONLY_INNER and v is not None}
    identity = body.get("identity")
    if identity and identity.get("type", "None") != "None":
        identity = {k: v for k, v in identity.items() if k in ("type", "userAssignedIdentities")}
    return ComputeSpec(
        name=body["name"],
        compute_type=props.get("computeType", ""),
        location=body.get("location", ""),
        state=inner.get("state"),
        last_operation=inner.get("lastOperation") or None,
        provisioning_state=props.get("provisioningState", ""),
        vm_size=inner.get("vmSize"),
        idle_time_before_shutdown=inner.get("idleTimeBeforeShutdown"),
        schedules=((inner.get("schedules") or {}).get("computeStartStop") or []),
        ssh_public_access=ssh.get("sshPublicAccess"),
        ssh_admin_user=ssh.get("adminUserName"),
        assigned_user=(inner.get("personalComputeInstanceSettings") or {}).get("assignedUser"),
        setup_scripts=inner.get("setupScripts"),
        identity=identity if identity and identity.get("type", "None") != "None" else None,
        tier=inner.get("vmPriority"),
        min_nodes=scale.get("minNodeCount"),
        max_nodes=scale.get("maxNodeCount"),
        attached_resource_id=props.get("resourceId"),
        tags=body.get("tags") or {},
        description=props.get("description"),
        create_properties=create,
        principal_id=(body.get("identity") or {}).get("principalId"),
    )


COMPUTES = rest.Collection("computes", to_spec)


def list_computes(clients: Clients, workspace: ResourceId) -> list[ComputeSpec]:
    return COMPUTES.list(clients, workspace)


def get_compute(clients: Clients, workspace: ResourceId, name: str) -> ComputeSpec:
    return COMPUTES.get(clients, workspace, name)


def _create_body(spec: ComputeSpec, location: str) -> dict[str, Any]:
    body: dict[str, Any] = {"location": location, "properties": spec.create_properties, "tags": spec.tags}
    if spec.identity:
        body["identity"] = spec.identity
    return body


def create_compute(clients: Clients, workspace: ResourceId, spec: ComputeSpec, location: str) -> ComputeSpec:
    """PUT the compute back with the same properties and wait until Azure has built it."""
    return to_spec(operations.put(clients, COMPUTES.path(workspace, spec.name), rest.ML_API, _create_body(spec, location)))


def begin_create(clients: Clients, workspace: ResourceId, spec: ComputeSpec, location: str) -> operations.Operation | None:
    """PUT the compute back with the same properties; the operation building it (None if Azure built it at once)."""
    return operations.begin(clients, workspace.subscription, "PUT", COMPUTES.path(workspace, spec.name), rest.ML_API, _create_body(spec, location), kind=Kind.WRITE)


def delete_compute(clients: Clients, workspace: ResourceId, name: str, action: Removal) -> None:
    """Delete or detach, as the caller says (the move's plan decides: amlops.move.plan.ComputeItem.removal), and wait
    until Azure has done it."""
    operations.delete(clients, COMPUTES.path(workspace, name), rest.ML_API, {"underlyingResourceAction": action})


def begin_delete(clients: Clients, workspace: ResourceId, name: str, action: Removal) -> operations.Operation | None:
    """Delete or detach, as the caller says; the operation doing it (None if Azure did it at once)."""
    path = COMPUTES.path(workspace, name)
    return operations.begin(clients, workspace.subscription, "DELETE", path, rest.ML_API, query={"underlyingResourceAction": action}, kind=Kind.WRITE)


def begin_power(clients: Clients, workspace: ResourceId, name: str, action: str) -> operations.Operation | None:
    """POST start, stop or restart (Azure ML's compute actions); the operation to follow, or None if already done.

    Through the ARM pipeline rather than azure-ai-ml's begin_stop: the same request, without an MLClient per
    workspace and a polling thread per instance (amlops.azure.operations)."""
    return operations.begin(clients, workspace.subscription, "POST", f"{COMPUTES.path(workspace, name)}/{action}", rest.ML_API, kind=Kind.ACTION)


def _power(clients: Clients, workspace: ResourceId, name: str, action: str, wait_seconds: float | None) -> None:
    op = begin_power(clients, workspace, name, action)
    if op is not None:
        operations.wait(clients, workspace.subscription, op, wait_seconds, f"{action} of compute '{name}'")


def start_compute(clients: Clients, workspace: ResourceId, name: str, wait_seconds: float | None = None) -> None:
    _power(clients, workspace, name, "start", wait_seconds)


def stop_compute(clients: Clients, workspace: ResourceId, name: str, wait_seconds: float | None = None) -> None:
    _power(clients, workspace, name, "stop", wait_seconds)


def restart_compute(clients: Clients, workspace: ResourceId, name: str, wait_seconds: float | None = None) -> None:
    _power(clients, workspace, name, "restart", wait_seconds)


def update_idle_shutdown(clients: Clients, workspace: ResourceId, name: str, duration: str) -> None:
    """Set idle shutdown (ISO 8601, between PT15M and P3D) as Azure ML's updateIdleShutdownSetting does."""
    path = COMPUTES.path(workspace, name) + "/updateIdleShutdownSetting"
    rest.send(clients, workspace.subscription, "POST", path, rest.ML_API, {"idleTimeBeforeShutdown": duration}, kind=Kind.WRITE)  # sets a value: idempotent
