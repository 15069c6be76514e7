"""Azure ML job schedules in a workspace (``workspaces/{ws}/schedules``). Disabling and enabling follow
azure-ai-ml's ScheduleOperations.begin_disable / begin_enable: read the schedule, PUT it back with isEnabled
changed (Schedules_CreateOrUpdate, a long-running PUT)."""

from __future__ import annotations

from typing import Any

from amlops.azure import operations, rest
from amlops.azure.clients import Clients
from amlops.models import ResourceId

READ_ONLY = ("provisioningState",)


def list_schedule_names(clients: Clients, workspace: ResourceId, enabled: bool | None = True) -> list[str]:
    """Names of the workspace's schedules: enabled ones, disabled ones, or (None) all."""
    view = {True: "EnabledOnly", False: "DisabledOnly", None: "All"}[enabled]
    found = rest.list_children(clients, workspace, "schedules", {"listViewType": view})
    return sorted(b["name"] for b in found)


def set_enabled(clients: Clients, workspace: ResourceId, name: str, enabled: bool) -> bool:
    """Enable or disable one schedule; returns False when it already was as asked (nothing written)."""
    body: dict[str, Any] = rest.get_child(clients, workspace, "schedules", name)
    props = {k: v for k, v in (body.get("properties") or {}).items() if k not in READ_ONLY}
    if bool(props.get("isEnabled", True)) == enabled:
        return False
    props["isEnabled"] = enabled
    operations.put(clients, rest.child_path(workspace, "schedules", name), rest.ML_API, {"properties": props})
    return True
