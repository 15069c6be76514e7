"""Computes: instances, clusters and attached Kubernetes, with their lifecycle."""

from __future__ import annotations

import copy
import re
from typing import Any

from amlops.emulator import ids, lro
from amlops.emulator.errors import ArmError, bad_request
from amlops.emulator.models.common import WORKSPACE_TYPE, arm_body, ensure_writable, get_child, list_children, writable_child
from amlops.emulator.state import Operation, State

COMPUTE_TYPE = f"{WORKSPACE_TYPE}/computes"
ATTACHED_TYPES = {"Kubernetes", "AKS", "Databricks", "VirtualMachine", "HDInsight", "SynapseSpark"}
KNOWN_TYPES = {"ComputeInstance", "AmlCompute"} | ATTACHED_TYPES
_DURATION = re.compile(r"^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$")
# Azure accepts idle shutdown between 15 minutes and 3 days.
IDLE_MIN_MINUTES, IDLE_MAX_MINUTES = 15, 3 * 24 * 60


def idle_minutes(duration: str) -> float:
    m = _DURATION.match(duration or "")
    if not m or duration in ("P", "PT"):
        raise bad_request(f"'{duration}' is not an ISO 8601 duration such as PT30M.", "InvalidIdleTimeBeforeShutdown")
    d, h, mi, s = (int(x or 0) for x in m.groups())
    return d * 1440 + h * 60 + mi + s / 60


def _check_idle(duration: str | None) -> None:
    if duration is None:
        return
    minutes = idle_minutes(duration)
    if not IDLE_MIN_MINUTES <= minutes <= IDLE_MAX_MINUTES:
        raise bad_request(
            f"idleTimeBeforeShutdown '{duration}' is outside the allowed range of 15 minutes to 3 days.",
            "InvalidIdleTimeBeforeShutdown",
        )


def compute_id(workspace_id: str, name: str) -> str:
    return f"{workspace_id}/computes/{name}"


def create_compute(
    state: State, workspace_id: str, name: str, body: dict[str, Any], fail_with: ArmError | None = None
) -> tuple[dict[str, Any], Operation, bool]:
    workspace, cid = writable_child(state, workspace_id, "computes", name)
    props = dict((body or {}).get("properties") or {})
    ctype = props.get("computeType")
    if ctype not in KNOWN_TYPES:
        raise bad_request(f"computeType must be one of {sorted(KNOWN_TYPES)}, not {ctype!r}.", "InvalidComputeType")
    inner = dict(props.get("properties") or {})
    previous = state.store.get(cid)
    if previous is not None and previous["properties"]["computeType"] != ctype:
        raise ArmError(409, "Conflict", f"Compute '{name}' already exists with type {previous['properties']['computeType']}.")
    if previous is not None and ctype == "ComputeInstance":
        # A compute instance is not updated by PUT: redeploying the same definition fails (MicrosoftDocs/azure-docs
        # #80695), and azurerm replaces one rather than updating it (hashicorp/terraform-provider-azurerm#31747).
        # Its settings change through their own actions (start, stop, updateIdleShutdownSetting, ...).
        raise ArmError(409, "Conflict", f"Compute instance '{name}' already exists; a compute instance cannot be updated in place. Delete it and create it again.")
    remaining = state.etag_conflicts.get(ids.key(cid), 0)
    if remaining > 0:
        state.etag_conflicts[ids.key(cid)] = remaining - 1
        raise ArmError(
            409,
            "Conflict",
            f"Etag conflict: compute '{name}' was recently deleted from this workspace's previous location and its "
            "record is still being cleaned up. Retry later.",
        )
    location = (body or {}).get("location") or workspace["location"]
    if ctype == "ComputeInstance":
        _claim_name(state, cid, name, location)
        if not inner.get("vmSize"):
            raise bad_request("A ComputeInstance needs properties.properties.vmSize.", "InvalidComputeSpec")
        _check_idle(inner.get("idleTimeBeforeShutdown"))
        schedules = (inner.get("schedules") or {}).get("computeStartStop") or []
        if len(schedules) > 4:
            raise bad_request("A compute instance takes at most 4 start/stop schedules.", "TooManySchedules")
        for schedule in schedules:
            # ComputeStartStopSchedule (machinelearningservices REST specification): Azure adds the readOnly
            # id and provisioningStatus to each schedule it stores.
            schedule.pop("id", None)
            schedule.update(id=state.new_id(), provisioningStatus="Completed")
        inner["state"] = "Creating"
    elif ctype == "AmlCompute":
        inner.setdefault("vmSize", "STANDARD_DS3_V2")
        inner.setdefault("scaleSettings", {"minNodeCount": 0, "maxNodeCount": 1})
        inner["allocationState"] = "Steady"
        inner["currentNodeCount"] = 0
    elif ctype in ("Kubernetes", "AKS"):
        target = props.get("resourceId")
        if not target or state.store.get(target) is None:
            raise bad_request(f"Attached compute '{name}' needs properties.resourceId naming an existing cluster.", "InvalidComputeSpec")
        props["isAttachedCompute"] = True
    identity = dict((body or {}).get("identity") or {"type": "None"})
    if "systemassigned" in identity.get("type", "").lower():
        # ManagedServiceIdentity (ARM common types): principalId and tenantId are readOnly, made by Azure: a new
        # compute gets a new principal, whatever the old one was.
        previous_identity = (previous or {}).get("identity") or {}
        identity["principalId"] = previous_identity.get("principalId") or state.new_id()
        identity["tenantId"] = state.subscription(ids.subscription_of(cid) or "").tenant_id
    props["properties"] = inner
    props["provisioningState"] = "Creating"
    props.setdefault("createdOn", state.clock.iso())
    props["modifiedOn"] = state.clock.iso()
    compute = arm_body(
        state,
        cid,
        COMPUTE_TYPE,
        props,
        location=location,
        tags=(body or {}).get("tags") or {},
        previous=previous,
        identity=identity,
        sku=(body or {}).get("sku"),
    )
    if compute.get("sku") is None:
        compute.pop("sku")
    state.store.put(compute)

    def complete() -> dict[str, Any]:
        compute["properties"]["provisioningState"] = "Succeeded"
        if ctype == "ComputeInstance":
            _set_up(state, compute)
        return compute

    def failed() -> None:
        compute["properties"]["provisioningState"] = "Failed"

    sub = ids.subscription_of(cid) or ""
    kind = f"compute.create.{kind_of(ctype)}"
    return compute, lro.start(state, kind, sub, complete, location=compute["location"], fail_with=fail_with, on_fail=failed, key=cid), previous is None


def kind_of(compute_type: str) -> str:
    """How a compute type's operations are named for their durations (lro.AZURE_SECONDS): instance, cluster, attach."""
    return {"ComputeInstance": "instance", "AmlCompute": "cluster"}.get(compute_type, "attach" if compute_type in ATTACHED_TYPES else compute_type.lower())


def as_accepted(compute: dict[str, Any]) -> dict[str, Any]:
    """The body of Azure's 201 to a compute PUT: provisioningState Creating, the instance's state (a cluster's
    allocationState) null, the VM size upper-cased, no last operation, whatever the compute was before
    (compute_instance_stop_start.json: "vmSize": "STANDARD_DS2_V2" for a request's Standard_DS2_v2, "state": null;
    its later GETs carry the size as requested)."""
    view = copy.deepcopy(compute)
    view["properties"]["provisioningState"] = "Creating"
    inner = view["properties"].get("properties")
    if isinstance(inner, dict):
        if view["properties"].get("computeType") == "ComputeInstance":
            inner["state"] = None
            inner["lastOperation"] = None
        if "allocationState" in inner:
            inner["allocationState"] = None
        if isinstance(inner.get("vmSize"), str):
            inner["vmSize"] = inner["vmSize"].upper()
    return view


def _region_key(location: str, name: str) -> str:
    return f"{location.lower().replace(' ', '')}/{name.lower()}"


def _claim_name(state: State, compute_id_: str, name: str, location: str) -> None:
    """Compute instance names are unique per region, across workspaces and subscriptions: "The name must be unique
    across all existing computes within an Azure region" ("Create an Azure Machine Learning compute instance"); Azure
    ML refuses a duplicate with "Compute with this name already exists. Compute name needs to be unique across all
    existing computes within an Azure region." (as reported in microsoft/MCW-ML-Ops#28)."""
    key = _region_key(location, name)
    holder = state.instance_names.get(key)
    if holder and ids.key(holder) != ids.key(compute_id_):
        held = state.store.get(holder)
        if held is not None and held["properties"].get("computeType") == "ComputeInstance":
            raise ArmError(409, "Conflict", "Compute with this name already exists. Compute name needs to be unique across all existing computes within an Azure region.")
    state.instance_names[key] = compute_id_


def _needs_setup(inner: dict[str, Any]) -> bool:
    scripts = (inner.get("setupScripts") or {}).get("scripts") or {}
    return bool(scripts.get("creationScript") or (inner.get("schedules") or {}).get("computeStartStop"))


def _set_up(state: State, compute: dict[str, Any]) -> None:
    """A new compute instance, once provisioned: SettingUp while its creation script runs and its schedules are put
    in place, then Running. ComputeInstanceState (machinelearningservices REST specification, ComputeInstance
    properties.state: Creating, SettingUp, UserSettingUp, SetupFailed, Running, ...) and "Customize the compute
    instance with a script" (a creation script runs once, as the instance is created). How long it lasts is the
    "compute.setup" progression (immediate unless a test or scenario sets it)."""
    inner = compute["properties"]["properties"]
    if not _needs_setup(inner):
        inner["state"] = "Running"
        return
    inner["state"] = "SettingUp"

    def ready() -> None:
        if inner.get("state") == "SettingUp":
            inner["state"] = "Running"

    lro.start(state, "compute.setup", ids.subscription_of(compute["id"]) or "", ready, location=compute["location"])


def update_compute(state: State, workspace_id: str, name: str, body: dict[str, Any]) -> dict[str, Any]:
    """Compute_Update: a cluster's scale settings, and description or tags of any compute."""
    compute = get_compute(state, workspace_id, name)
    ensure_writable(state, compute["id"])
    props = (body or {}).get("properties") or {}
    scale = (props.get("properties") or {}).get("scaleSettings")
    if scale is not None:
        if compute["properties"]["computeType"] != "AmlCompute":
            raise bad_request("Only AmlCompute clusters have scale settings.", "UnsupportedComputeAction")
        if scale.get("minNodeCount", 0) > scale.get("maxNodeCount", 0):
            raise bad_request("minNodeCount cannot exceed maxNodeCount.", "InvalidScaleSettings")
        compute["properties"]["properties"]["scaleSettings"] = scale
    if "description" in props:
        compute["properties"]["description"] = props["description"]
    if "tags" in (body or {}):
        compute["tags"] = body["tags"]
    compute["properties"]["modifiedOn"] = state.clock.iso()
    return compute


def get_compute(state: State, workspace_id: str, name: str) -> dict[str, Any]:
    return get_child(state, workspace_id, "computes", name, "Compute")


def list_computes(state: State, workspace_id: str) -> list[dict[str, Any]]:
    return list_children(state, workspace_id, "computes")


def delete_compute(state: State, workspace_id: str, name: str, action: str, fail_with: ArmError | None = None) -> Operation:
    compute = get_compute(state, workspace_id, name)
    ensure_writable(state, compute["id"])
    if action not in ("Delete", "Detach"):
        raise bad_request("underlyingResourceAction must be 'Delete' or 'Detach'.", "InvalidUnderlyingResourceAction")
    ctype = compute["properties"]["computeType"]
    if action == "Detach" and ctype not in ATTACHED_TYPES:
        raise bad_request(f"Compute '{name}' of type {ctype} was created by Azure ML and cannot be detached; delete it.", "DetachNotSupported")
    compute["properties"]["provisioningState"] = "Deleting"

    def complete() -> None:
        state.store.delete(compute["id"])
        # "When the resource is deleted, Azure automatically deletes the identity" (managed identities overview):
        # grants to it can no longer be made (PrincipalNotFound).
        principal = (compute.get("identity") or {}).get("principalId")
        if principal:
            state.deleted_principals.add(principal.lower())
        # Remember the name: Azure trips over it when the workspace re-creates it right after a move.
        state.deleted_compute_names.setdefault(ids.key(workspace_id), set()).add(name.lower())
        target = compute["properties"].get("resourceId")
        if action == "Delete" and target:
            state.store.delete(target)

    def failed() -> None:
        compute["properties"]["provisioningState"] = "Succeeded"

    kind = f"compute.delete.{kind_of(ctype)}"
    return lro.start(state, kind, ids.subscription_of(compute["id"]) or "", complete, location=compute["location"], fail_with=fail_with, on_fail=failed, key=compute["id"])


# action -> (states it is allowed from, transitional state, final state)
POWER_ACTIONS = {
    "start": ({"Stopped"}, "Starting", "Running"),
    "stop": ({"Running"}, "Stopping", "Stopped"),
    "restart": ({"Running"}, "Restarting", "Running"),
}


def power(state: State, workspace_id: str, name: str, action: str, fail_with: ArmError | None = None) -> Operation:
    compute = get_compute(state, workspace_id, name)
    ensure_writable(state, compute["id"])
    if compute["properties"]["computeType"] != "ComputeInstance":
        raise bad_request(f"'{action}' applies to compute instances only; '{name}' is {compute['properties']['computeType']}.", "UnsupportedComputeAction")
    allowed, transitional, final = POWER_ACTIONS[action]
    inner = compute["properties"]["properties"]
    current = inner.get("state")
    # Start/stop/restart act on a settled instance only; in Creating, SettingUp, Starting, Stopping... Azure answers
    # 409 Conflict naming the state (the states of ComputeInstanceState; azure-cli's "az ml compute stop" surfaces it).
    if current not in allowed:
        needed = " or ".join(sorted(allowed))
        raise ArmError(
            409,
            "Conflict",
            f"Unable to {action} compute instance '{name}': it is in state {current}. "
            f"The operation is only allowed in {needed} state.",
        )
    inner["state"] = transitional
    # lastOperation names the action, when it was asked, how it went and who asked (compute_instance_stop_start.json:
    # after the stop {operationName: Stop, operationStatus: Succeeded, operationTrigger: User}).
    last = inner["lastOperation"] = {"operationName": action.capitalize(), "operationTime": state.clock.iso(), "operationStatus": "InProgress", "operationTrigger": "User"}

    def complete() -> None:
        inner["state"] = final
        last["operationStatus"] = "Succeeded"

    def failed() -> None:
        inner["state"] = current
        last["operationStatus"] = "Failed"

    return lro.start(state, f"compute.{action}", ids.subscription_of(compute["id"]) or "", complete, location=compute["location"], fail_with=fail_with, on_fail=failed, key=compute["id"])


def update_idle_shutdown(state: State, workspace_id: str, name: str, body: dict[str, Any]) -> None:
    compute = get_compute(state, workspace_id, name)
    ensure_writable(state, compute["id"])
    if compute["properties"]["computeType"] != "ComputeInstance":
        raise bad_request("Idle shutdown applies to compute instances only.", "UnsupportedComputeAction")
    duration = (body or {}).get("idleTimeBeforeShutdown")
    if not duration:
        raise bad_request("The body needs idleTimeBeforeShutdown, such as PT60M.", "InvalidIdleTimeBeforeShutdown")
    _check_idle(duration)
    compute["properties"]["properties"]["idleTimeBeforeShutdown"] = duration


def list_nodes(state: State, workspace_id: str, name: str) -> dict[str, Any]:
    compute = get_compute(state, workspace_id, name)
    count = compute["properties"]["properties"].get("currentNodeCount", 0)
    nodes = [{"nodeId": f"tvm-{i}", "nodeState": "idle", "privateIpAddress": f"10.0.0.{4 + i}"} for i in range(count)]
    return {"nodes": nodes}
