"""validateMoveResources and moveResources (azure-mgmt-resource)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

from azure.core.exceptions import HttpResponseError
from azure.core.polling import LROPoller
from azure.mgmt.resource.resources.models import ResourcesMoveInfo

from amlops.azure.clients import Clients
from amlops.azure.errors import azure_errors, translate
from amlops.azure.retry import Kind
from amlops.errors import NotFound
from amlops.models import ResourceId

MoveEnd = Literal["succeeded", "failed"]


def _info(resources: list[str], target_group_id: str) -> ResourcesMoveInfo:
    return ResourcesMoveInfo(resources=resources, target_resource_group=target_group_id)


def validate_move(clients: Clients, source: ResourceId, resources: list[str], target_group_id: str) -> None:
    """Returns when Azure would accept the move; raises MoveValidationFailed with ARM's reasons otherwise."""
    with azure_errors(Kind.READ):  # validation changes nothing: sent again, and its status polled, like any read
        clients.arm(source.subscription).resources.begin_validate_move_resources(source.resource_group, _info(resources, target_group_id)).result()


def _ended(poller: LROPoller[Any]) -> tuple[MoveEnd, str]:
    """Wait for Azure's move operation to end: succeeded, or failed with Azure's words.

    ARM's asynchronous pattern (Azure REST API guidelines, "Track asynchronous Azure operations"): a
    Location status URL answers 202 while the operation runs, 200/204 when it succeeded, and the
    operation's own error status and body when it failed; an Azure-AsyncOperation resource says
    "Failed" in a 200. Either way the operation is over and the move did not happen. The pipeline has
    already retried throttling and transient errors on each poll; what still fails to reach Azure, or a
    status URL Azure no longer knows (404), raises: then nobody knows how the move ended.
    """
    try:
        poller.result()
    except HttpResponseError as err:
        error = translate(err)
        if err.status_code in (404, 429) or not error.code:
            raise error from err
        return "failed", f"{error.code}: {error.message}"
    return "succeeded", ""


def move_resources(
    clients: Clients, source: ResourceId, resources: list[str], target_group_id: str, on_accepted: Callable[[str], None]
) -> tuple[MoveEnd, str]:
    """Send moveResources and wait for it to end. Not idempotent: callers find out where the workspace is first.

    As soon as Azure accepts the move, ``on_accepted`` gets the operation as the SDK's continuation token, so
    a run that dies while Azure works can follow the same operation instead of guessing (``follow_move``).
    """
    with azure_errors(Kind.ACTION):  # never resent blindly: the flow finds where the workspace is
        poller = clients.arm(source.subscription).resources.begin_move_resources(source.resource_group, _info(resources, target_group_id))
    on_accepted(poller.continuation_token())
    return _ended(poller)


def follow_move(clients: Clients, source: ResourceId, resources: list[str], target_group_id: str, operation: str) -> tuple[MoveEnd, str] | None:
    """Wait for a move that an earlier run sent; None when Azure no longer knows the operation.

    Uses azure-core's documented continuation token (LROPoller.continuation_token / continuation_token=),
    which holds the operation's polling URL and headers, never credentials.
    """
    with azure_errors(Kind.READ):  # a continuation token sends nothing but status polls
        poller = clients.arm(source.subscription).resources.begin_move_resources(
            source.resource_group, _info(resources, target_group_id), continuation_token=operation
        )
    try:
        return _ended(poller)
    except NotFound:
        return None
