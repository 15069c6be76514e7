"""The caller's permissions at a scope (REST: Permissions - List For Resource Group / For Resource, 2022-04-01)."""

from __future__ import annotations

from amlops.azure import rest
from amlops.azure.clients import Clients
from amlops.models import Permission

SEGMENT = "/providers/Microsoft.Authorization/permissions"


def list_permissions(clients: Clients, scope: str) -> list[Permission]:
    subscription = scope.split("/")[2]
    return [
        Permission(actions=b.get("actions") or [], not_actions=b.get("notActions") or [])
        for b in rest.pages(clients, subscription, scope.rstrip("/") + SEGMENT, rest.AUTH_API)
    ]
