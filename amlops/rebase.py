"""What carries a subscription, rebased after a move. Pure.

ARM changes the id of every moved resource (its subscription and resource group) and leaves role assignments
made at a moved resource's scope behind ("Move resources to a new resource group or subscription": "If you move
a resource that has an Azure role assigned directly to the resource, the role assignment isn't moved"; the
workspace-move documentation: "Any role assignments to the source workspace scope aren't moved; you must recreate
them in the destination"). Role definitions are named per subscription
(``/subscriptions/{sub}/providers/Microsoft.Authorization/roleDefinitions/{guid}``, Azure REST: Role Definitions
- Get); a built-in role has the same GUID in every subscription, so re-creating a grant in the target names the
target's copy.
"""

from __future__ import annotations

from typing import Any

from amlops.models import BatchEndpoint, Deployment, OnlineEndpoint, RoleAssignment

_DEFINITIONS = "/providers/microsoft.authorization/roledefinitions/"


def _starts(value: str, prefix: str) -> bool:
    v, p = value.rstrip("/").lower(), prefix.rstrip("/").lower()
    return v == p or v.startswith(p + "/")


def rebase_id(value: str, moved: list[str], source_group: str, target_group: str) -> str:
    """``value`` with the target group's prefix when it names a moved resource or something below one."""
    if any(_starts(value, m) for m in moved) and _starts(value, source_group):
        return target_group + value.rstrip("/")[len(source_group.rstrip("/")) :]
    return value


def rebase_ids(value: Any, moved: list[str], source_group: str, target_group: str) -> Any:
    """Every string in a JSON-like value rebased with :func:`rebase_id`."""
    if isinstance(value, str):
        return rebase_id(value, moved, source_group, target_group)
    if isinstance(value, dict):
        return {k: rebase_ids(v, moved, source_group, target_group) for k, v in value.items()}
    if isinstance(value, list):
        return [rebase_ids(v, moved, source_group, target_group) for v in value]
    return value


def role_definition_in(role_definition_id: str, subscription: str) -> str:
    """The same role definition named in ``subscription``. Tenant-level ids (no subscription) stay as they are."""
    lower = role_definition_id.lower()
    at = lower.find(_DEFINITIONS)
    if not lower.startswith("/subscriptions/") or at < 0:
        return role_definition_id
    return f"/subscriptions/{subscription}/providers/Microsoft.Authorization/roleDefinitions/{role_definition_id[at + len(_DEFINITIONS):]}"


def rebase_assignments(
    assignments: list[RoleAssignment], moved: list[str], source_group: str, target_group: str, target_subscription: str, skip_principals: set[str] | None = None
) -> list[RoleAssignment]:
    """The grants to re-create after the move: those made at a moved resource (or below it), at its new scope,
    naming the target subscription's role definition, their ABAC condition kept. Grants elsewhere did not move
    and are still in force. Grants to ``skip_principals`` (identities the rebuild replaces) go by :func:`regrants`."""
    skip = {p.lower() for p in skip_principals or set()}
    rebased = []
    for grant in assignments:
        scope = rebase_id(grant.scope, moved, source_group, target_group)
        if scope == grant.scope or grant.principal_id.lower() in skip:
            continue
        rebased.append(grant.model_copy(update={"scope": scope, "role_definition_id": role_definition_in(grant.role_definition_id, target_subscription)}))
    return rebased


def regrants(assignments: list[RoleAssignment], replaced: dict[str, str], moved: list[str], source_group: str, target_group: str) -> list[RoleAssignment]:
    """Grants to a system-assigned identity that a re-create replaced (old principal -> new), given to the new
    principal: at the moved scope where the scope moved, at the same scope otherwise. A system-assigned identity
    is deleted with its resource ("Managed identities for Azure resources"), so its grants cannot be kept."""
    old_to_new = {k.lower(): v for k, v in replaced.items()}
    found = []
    for grant in assignments:
        new = old_to_new.get(grant.principal_id.lower())
        if new is None:
            continue
        scope = rebase_id(grant.scope, moved, source_group, target_group)
        subscription = scope.split("/")[2] if scope.lower().startswith("/subscriptions/") else ""
        role = role_definition_in(grant.role_definition_id, subscription) if subscription else grant.role_definition_id
        found.append(grant.model_copy(update={"scope": scope, "role_definition_id": role, "principal_id": new, "principal_type": "ServicePrincipal"}))
    return found


def rebase_endpoint(endpoint: OnlineEndpoint, moved: list[str], source_group: str, target_group: str) -> OnlineEndpoint:
    """An online endpoint whose ARM ids (the deployments' model, environment, code, compute; anything in the
    endpoint's properties) name the moved workspace instead of the source."""
    return OnlineEndpoint.model_validate(rebase_ids(endpoint.model_dump(), moved, source_group, target_group))


def batch_repoints(batch_endpoints: list[BatchEndpoint], moved: list[str], source_group: str, target_group: str) -> list[tuple[str, Deployment]]:
    """Batch deployments that name a moved resource (their compute cluster, deleted and re-created by the move;
    their model, environment or code in the workspace), rebased: (endpoint name, deployment to PUT again).
    Batch endpoints move with the workspace; the ids inside their deployments do not change by themselves."""
    found = []
    for endpoint in batch_endpoints:
        for deployment in endpoint.deployments:
            rebased = Deployment.model_validate(rebase_ids(deployment.model_dump(), moved, source_group, target_group))
            if rebased != deployment:
                found.append((endpoint.name, rebased))
    return found
