"""Microsoft.Authorization management locks: stored and listed at any scope.

Shape from Azure's REST specification, Microsoft.Authorization/stable/2020-05-01/locks.json
(ManagementLockObject: id, name, type, properties.level CanNotDelete|ReadOnly|NotSpecified, notes, owners).
Listing follows ManagementLocks_ListByScope / ListAtResourceGroupLevel / ListAtSubscriptionLevel: the locks
at the scope, inherited from above it, and on resources below it; ``$filter=atScope()`` leaves out those below.
"""

from __future__ import annotations

from typing import Any

from amlops.emulator import ids
from amlops.emulator.errors import bad_request
from amlops.emulator.state import State

TYPE = "Microsoft.Authorization/locks"
SEGMENT = "/providers/Microsoft.Authorization/locks"
LEVELS = ("CanNotDelete", "ReadOnly", "NotSpecified")


def lock_id(scope: str, name: str) -> str:
    return f"{scope.rstrip('/')}{SEGMENT}/{name}"


def scope_of(lock: dict[str, Any]) -> str:
    return lock["id"][: ids.key(lock["id"]).rfind(SEGMENT.lower())]


def put_lock(state: State, scope: str, name: str, properties: dict[str, Any]) -> dict[str, Any]:
    level = properties.get("level")
    if level not in LEVELS:
        raise bad_request(f"A management lock needs properties.level, one of {list(LEVELS)}.", "InvalidLockLevel")
    body = {"id": lock_id(scope, name), "name": name, "type": TYPE, "properties": {"level": level, "notes": properties.get("notes", ""), "owners": list(properties.get("owners") or [])}}
    return state.store.put(body)


def list_at(state: State, scope: str, at_scope_only: bool = False) -> list[dict[str, Any]]:
    return [b for b in state.store if b["type"] == TYPE and ids.in_view(scope_of(b), scope, at_scope_only)]
