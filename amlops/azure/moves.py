"""validateMoveResources and moveResources (azure-mgmt-resource)."""

from __future__ import annotations

from azure.mgmt.resource.resources.models import ResourcesMoveInfo

from amlops.azure.clients import Clients
from amlops.azure.errors import azure_errors
from amlops.models import ResourceId


def _info(resources: list[str], target_group_id: str) -> ResourcesMoveInfo:
    return ResourcesMoveInfo(resources=resources, target_resource_group=target_group_id)


def validate_move(clients: Clients, source: ResourceId, resources: list[str], target_group_id: str) -> None:
    """Returns when Azure would accept the move; raises MoveValidationFailed with ARM's reasons otherwise."""
    with azure_errors():
        clients.arm(source.subscription).resources.begin_validate_move_resources(source.resource_group, _info(resources, target_group_id)).result()


def move_resources(clients: Clients, source: ResourceId, resources: list[str], target_group_id: str) -> None:
    """Move and wait. Not idempotent: callers check where the workspace is before ever retrying."""
    with azure_errors():
        clients.arm(source.subscription).resources.begin_move_resources(source.resource_group, _info(resources, target_group_id)).result()
