"""Microsoft.Authorization/locks: management locks at any scope, and the operations they refuse.

Follows "Lock your resources to protect your infrastructure" (learn.microsoft.com/azure/azure-resource-manager/
management/lock-resources) and the REST specification of Management Locks (2020-05-01, specification/resources/
resource-manager/Microsoft.Authorization/locks): a lock applies to its scope and everything below it; CanNotDelete
refuses deletes, ReadOnly refuses deletes and updates, POST actions included ("Locks prevent the POST method from
sending data to the ARM API"); a read-only lock on a resource group "prevents you from moving existing resources in
or out of the resource group". ARM answers a refused request 409 ``ScopeLocked``.
"""

from __future__ import annotations

from typing import Any

from amlops.emulator.errors import ArmError, bad_request
from amlops.emulator.models.extension import ExtensionKind
from amlops.emulator.state import State

KIND = ExtensionKind("Microsoft.Authorization/locks", not_found="LockNotFound")
TYPE, SEGMENT = KIND.type, KIND.segment
LEVELS = ("CanNotDelete", "ReadOnly")


def put_lock(state: State, scope: str, name: str, body: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    props = (body or {}).get("properties") or {}
    level = props.get("level", "")
    if level not in LEVELS:
        # The spec's LockLevel enum also has NotSpecified, which ARM refuses on create.
        raise bad_request(f"The lock level '{level}' is not valid; use CanNotDelete or ReadOnly.", "LockLevelInvalid")
    KIND.require_scope(state, scope, "ResourceNotFound", f"The scope '{scope}' to lock does not exist.")
    return KIND.put(state, scope, name, {"level": level, "notes": props.get("notes", ""), "owners": props.get("owners") or []})


def get_lock(state: State, scope: str, name: str) -> dict[str, Any]:
    return KIND.get(state, scope, name, f"The lock '{name}' could not be found at scope '{scope}'.")


def delete_lock(state: State, scope: str, name: str) -> dict[str, Any] | None:
    return KIND.delete(state, scope, name)


def list_at(state: State, scope: str, at_scope_only: bool = False) -> list[dict[str, Any]]:
    """Locks that apply at the scope (on it or inherited from above) and, unless ``atScope()``, those below it."""
    return KIND.list_at(state, scope, at_scope_only, KIND.scope_of)


def locks_on(state: State, scope: str, operation: str) -> list[dict[str, Any]]:
    """The locks that refuse ``operation`` ('delete' or 'write') at ``scope``: its own and its parents'."""
    levels = LEVELS if operation == "delete" else ("ReadOnly",)
    return [lock for lock in list_at(state, scope, at_scope_only=True) if lock["properties"]["level"] in levels]


def scope_locked(scope: str, operation: str, locks: list[dict[str, Any]]) -> ArmError:
    """ARM's refusal, worded as ARM words it: it names the locked scopes, not the locks (lock_blocks_group_delete.json)."""
    scopes = dict.fromkeys(KIND.scope_of(lock) for lock in locks)
    names = ",".join(f"'{scope}'" for scope in scopes)
    return ArmError(
        409,
        "ScopeLocked",
        f"The scope '{scope}' cannot perform {operation} operation because following scope(s) are locked: {names}. "
        "Please remove the lock and try again.",
    )


def enforce(state: State, scope: str, operation: str) -> None:
    found = locks_on(state, scope, operation)
    if found:
        raise scope_locked(scope, operation, found)


def move_problems(state: State, source_group: str, target_group: str, resources: list[str]) -> list[dict[str, str]]:
    """What locks say about a move: a ReadOnly lock on either group refuses moving in or out of it
    (lock-resources: "A read-only lock on a resource group prevents you from moving existing resources in or out
    of the resource group"); a move takes each resource out of its source scope, which a delete lock refuses."""
    found = []
    for group in (source_group, target_group):
        for lock in locks_on(state, group, "write"):
            found.append({"code": "ScopeLocked", "message": f"Resource group '{group}' has ReadOnly lock '{lock['id']}'.", "target": group})
    for rid in resources:
        for lock in locks_on(state, rid, "delete"):
            if lock["properties"]["level"] == "CanNotDelete":
                found.append({"code": "ScopeLocked", "message": f"'{rid}' cannot be moved out of its resource group: CanNotDelete lock '{lock['id']}'.", "target": rid})
    return found
