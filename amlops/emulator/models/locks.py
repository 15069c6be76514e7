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

from amlops.emulator import ids
from amlops.emulator.errors import ArmError, bad_request
from amlops.emulator.state import State

TYPE = "Microsoft.Authorization/locks"
SEGMENT = "/providers/Microsoft.Authorization/locks"
LEVELS = ("CanNotDelete", "ReadOnly")


def lock_id(scope: str, name: str) -> str:
    return f"{scope.rstrip('/')}{SEGMENT}/{name}"


def scope_of(lock: dict[str, Any]) -> str:
    return lock["id"][: ids.key(lock["id"]).rfind(SEGMENT.lower())]


def put_lock(state: State, scope: str, name: str, body: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    props = (body or {}).get("properties") or {}
    level = props.get("level", "")
    if level not in LEVELS:
        # The spec's LockLevel enum also has NotSpecified, which ARM refuses on create.
        raise bad_request(f"The lock level '{level}' is not valid; use CanNotDelete or ReadOnly.", "LockLevelInvalid")
    sub = ids.subscription_of(scope)
    if sub:
        state.subscription(sub)
    if ids.key(scope).count("/") > 2 and state.store.get(scope) is None:
        raise ArmError(404, "ResourceNotFound", f"The scope '{scope}' to lock does not exist.")
    rid = lock_id(scope, name)
    previous = state.store.get(rid)
    lock = {
        "id": rid,
        "type": TYPE,
        "name": name,
        "properties": {"level": level, "notes": props.get("notes", ""), "owners": props.get("owners") or []},
    }
    return state.store.put(lock), previous is None


def get_lock(state: State, scope: str, name: str) -> dict[str, Any]:
    found = state.store.get(lock_id(scope, name))
    if found is None:
        raise ArmError(404, "LockNotFound", f"The lock '{name}' could not be found at scope '{scope}'.")
    return found


def delete_lock(state: State, scope: str, name: str) -> dict[str, Any] | None:
    return state.store.delete(lock_id(scope, name))


def all_locks(state: State) -> list[dict[str, Any]]:
    return state.store.of_type(TYPE)


def list_at(state: State, scope: str, at_scope_only: bool = False) -> list[dict[str, Any]]:
    """Locks that apply at the scope (on it or inherited from above) and, unless ``atScope()``, those below it."""
    target = ids.key(scope)
    found = []
    for lock in all_locks(state):
        own = ids.key(scope_of(lock))
        above = target == own or target.startswith(own + "/")
        below = own.startswith(target + "/")
        if above or (below and not at_scope_only):
            found.append(lock)
    return found


def locks_on(state: State, scope: str, operation: str) -> list[dict[str, Any]]:
    """The locks that refuse ``operation`` ('delete' or 'write') at ``scope``: its own and its parents'."""
    levels = LEVELS if operation == "delete" else ("ReadOnly",)
    return [lock for lock in list_at(state, scope, at_scope_only=True) if lock["properties"]["level"] in levels]


def scope_locked(scope: str, operation: str, locks: list[dict[str, Any]]) -> ArmError:
    """ARM's refusal, worded as ARM words it."""
    names = ",".join(f"'{lock['id']}'" for lock in locks)
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
