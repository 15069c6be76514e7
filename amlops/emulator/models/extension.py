"""Extension resources: a kind of resource that is always applied to another resource, at any scope
(subscription, resource group, resource), its id the scope's id + ``/providers/{type}/{name}``.

Follows "Resource types that extend capabilities of other resources" (learn.microsoft.com/azure/azure-resource-
manager/management/extension-resource-types: Microsoft.Authorization locks and roleAssignments among them). The
kinds' own rules (lock levels, duplicate grants, the codes ARM answers with) stay in their modules.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from amlops.emulator import ids
from amlops.emulator.errors import ArmError
from amlops.emulator.state import State


@dataclass(frozen=True)
class ExtensionKind:
    type: str  # e.g. Microsoft.Authorization/locks
    not_found: str  # ARM's error code for a missing one (LockNotFound, RoleAssignmentNotFound)

    @property
    def segment(self) -> str:
        return f"/providers/{self.type}"

    def id(self, scope: str, name: str) -> str:
        return f"{scope.rstrip('/')}{self.segment}/{name}"

    def scope_of(self, body: dict[str, Any]) -> str:
        return str(body["id"][: ids.key(body["id"]).rfind(self.segment.lower())])

    def require_scope(self, state: State, scope: str, code: str, message: str) -> None:
        """The scope's subscription must exist (its own error), and a scope below a subscription must exist as a resource."""
        sub = ids.subscription_of(scope)
        if sub:
            state.subscription(sub)
        if ids.key(scope).count("/") > 2 and state.store.get(scope) is None:
            raise ArmError(404, code, message)

    def put(self, state: State, scope: str, name: str, properties: dict[str, Any]) -> tuple[dict[str, Any], bool]:
        """Stored as ARM returns it; True when it is new (201 rather than 200)."""
        rid = self.id(scope, name)
        previous = state.store.get(rid)
        return state.store.put({"id": rid, "type": self.type, "name": name, "properties": properties}), previous is None

    def get(self, state: State, scope: str, name: str, message: str) -> dict[str, Any]:
        found = state.store.get(self.id(scope, name))
        if found is None:
            raise ArmError(404, self.not_found, message)
        return found

    def delete(self, state: State, scope: str, name: str) -> dict[str, Any] | None:
        return state.store.delete(self.id(scope, name))

    def list_at(self, state: State, scope: str, at_scope_only: bool, own_scope: Callable[[dict[str, Any]], str]) -> list[dict[str, Any]]:
        """Those at the scope and above it (inherited) and, unless ``atScope()`` was asked, those below it."""
        return [b for b in state.store if b["type"] == self.type and ids.in_view(own_scope(b), scope, at_scope_only)]
