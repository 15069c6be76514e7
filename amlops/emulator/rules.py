"""What ARM checks on every request before a resource provider sees it, in ARM's order: the caller's
permissions (403 AuthorizationFailed), management locks (409 ScopeLocked), then Azure Policy on writes
(403 RequestDisallowedByPolicy). The sources each rule follows are cited in models/authz.py, models/locks.py
and models/policy.py.
"""

from __future__ import annotations

from amlops.emulator import ids
from amlops.emulator.http import Request
from amlops.emulator.models import authz, locks, policy
from amlops.emulator.state import State

# Requests whose refusal by a lock is part of their own answer (validateMoveResources fails its operation,
# as the move documentation describes) or that write nothing (a policy evaluation).
_LOCK_EXEMPT_ACTIONS = ("/moveresources/action", "/validatemoveresources/action", "microsoft.policyinsights/checkpolicyrestrictions/action")


# Azure ML's regional data plane (run history, model management): "Locks only apply to control plane Azure Resource
# Manager operations and not to data plane operations" (lock-resources, "Considerations before applying your locks").
DATA_PLANE = ("/history/", "/modelmanagement/")
GRAPH = "/v1.0/"


def _scope(method: str, path: str) -> str:
    """The resource a request acts on: for a POST action, the path without the action (and without a
    bare ``/providers/{namespace}`` left over, as in ``{scope}/providers/Microsoft.PolicyInsights/...``)."""
    scope = path.rstrip("/")
    if method == "POST":
        scope = scope.rsplit("/", 1)[0]
        head, _, tail = scope.rpartition("/providers/")
        if head and "/" not in tail:
            scope = head
    return scope or "/"


def _type_of(path: str) -> str:
    if "/providers/" not in path.lower():
        return "Microsoft.Resources/resourceGroups"
    after = path[ids.key(path).rfind("/providers/") + len("/providers/") :].strip("/").split("/")
    return "/".join([after[0], *after[1::2]])


def enforce(state: State, req: Request) -> None:
    method, path = req.method, req.path
    if path.lower().startswith(GRAPH):  # Microsoft Graph is not ARM: its own permissions (models/authz.py)
        return
    action = authz.action_for(method, path)
    scope = _scope(method, path)
    authz.enforce(state, action, scope)
    if action.lower().endswith(("/moveresources/action", "/validatemoveresources/action")) and isinstance(req.body, dict):
        target = req.body.get("targetResourceGroup")
        if isinstance(target, str) and target:
            # The move documentation: write on the destination resource group is needed too.
            authz.enforce(state, "Microsoft.Resources/subscriptions/resourceGroups/write", target)
    if method in ("GET", "HEAD") or locks.SEGMENT.lower() in path.lower() or path.lower().startswith(DATA_PLANE):
        return
    if not action.lower().endswith(_LOCK_EXEMPT_ACTIONS):
        locks.enforce(state, scope, "delete" if method == "DELETE" else "write")
    if method == "PUT" and "/providers/microsoft.authorization/" not in path.lower():
        policy.enforce_write(state, path, _type_of(path), req.body)
