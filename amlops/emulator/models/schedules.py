"""Azure ML schedules (``workspaces/{ws}/schedules/{name}``): the machinelearningservices REST specification's
Schedule resource (ScheduleProperties: action with actionType CreateJob / InvokeBatchEndpoint / CreateMonitor,
trigger with triggerType Cron / Recurrence, isEnabled, read-only provisioningState). Schedules_CreateOrUpdate is a
long-running PUT; azure-ai-ml's ScheduleOperations.begin_disable / begin_enable read the schedule and PUT it back
with isEnabled changed."""

from __future__ import annotations

from typing import Any

from amlops.emulator.errors import bad_request
from amlops.emulator.models.common import WORKSPACE_TYPE, arm_body, ensure_writable, get_child, list_children, provision, writable_child
from amlops.emulator.state import Operation, State

SEGMENT = "schedules"
ACTIONS = {"CreateJob", "InvokeBatchEndpoint", "CreateMonitor"}
TRIGGERS = {"Cron", "Recurrence"}


def put_schedule(state: State, workspace_id: str, name: str, body: dict[str, Any]) -> tuple[dict[str, Any], Operation, bool]:
    workspace, sid = writable_child(state, workspace_id, SEGMENT, name)
    props = dict((body or {}).get("properties") or {})
    if (props.get("action") or {}).get("actionType") not in ACTIONS:
        raise bad_request(f"properties.action.actionType must be one of {sorted(ACTIONS)}.", "UserError")
    if (props.get("trigger") or {}).get("triggerType") not in TRIGGERS:
        raise bad_request(f"properties.trigger.triggerType must be one of {sorted(TRIGGERS)}.", "UserError")
    props["isEnabled"] = bool(props.get("isEnabled", True))
    previous = state.store.get(sid)
    props["provisioningState"] = "Creating"  # an update's answer too says Creating (schedule_create_update_disable.json)
    schedule = arm_body(state, sid, f"{WORKSPACE_TYPE}/{SEGMENT}", props, previous=previous)
    return schedule, provision(state, schedule, "schedule.create", workspace["location"]), previous is None


def get_schedule(state: State, workspace_id: str, name: str) -> dict[str, Any]:
    return get_child(state, workspace_id, SEGMENT, name, "Schedule")


def list_schedules(state: State, workspace_id: str, list_view_type: str = "EnabledOnly") -> list[dict[str, Any]]:
    """listViewType (EnabledOnly, the specification's default; DisabledOnly; All)."""
    found = list_children(state, workspace_id, SEGMENT)
    if list_view_type == "EnabledOnly":
        return [s for s in found if s["properties"]["isEnabled"]]
    if list_view_type == "DisabledOnly":
        return [s for s in found if not s["properties"]["isEnabled"]]
    return found


def delete_schedule(state: State, workspace_id: str, name: str) -> bool:
    schedule = get_schedule(state, workspace_id, name)
    ensure_writable(state, schedule["id"])
    return state.store.delete(schedule["id"]) is not None
