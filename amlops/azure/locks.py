"""Management locks at a scope (REST: Management Locks, Microsoft.Authorization/locks 2020-05-01)."""

from __future__ import annotations

from amlops.azure import rest
from amlops.azure.clients import Clients
from amlops.azure.retry import Kind
from amlops.models import ManagementLock

LOCKS_API = "2020-05-01"
SEGMENT = "/providers/Microsoft.Authorization/locks"


def list_locks(clients: Clients, scope: str) -> list[ManagementLock]:
    """Every lock that applies at ``scope`` (its own, inherited from above) and those on resources below it."""
    subscription = scope.split("/")[2]
    return [
        ManagementLock(id=b["id"], name=b["name"], level=(b.get("properties") or {}).get("level", ""), notes=(b.get("properties") or {}).get("notes") or "")
        for b in rest.pages(clients, subscription, scope.rstrip("/") + SEGMENT, LOCKS_API)
    ]


def create_lock(clients: Clients, scope: str, name: str, level: str, notes: str = "") -> ManagementLock:
    subscription = scope.split("/")[2]
    body = rest.send(clients, subscription, "PUT", f"{scope.rstrip('/')}{SEGMENT}/{name}", LOCKS_API, {"properties": {"level": level, "notes": notes}}, kind=Kind.WRITE)
    return ManagementLock(id=body["id"], name=body["name"], level=body["properties"]["level"], notes=body["properties"].get("notes") or "")


def delete_lock(clients: Clients, scope: str, name: str) -> None:
    subscription = scope.split("/")[2]
    rest.send(clients, subscription, "DELETE", f"{scope.rstrip('/')}{SEGMENT}/{name}", LOCKS_API, kind=Kind.WRITE)
