"""Everything a workspace move touches, read raw from ARM: GETs and list calls only.

Never listKeys, never listSecrets: what a snapshot holds was never a secret in the first place. The
reads run in parallel (each collection's pages in order), dependent reads start as soon as what they
depend on arrives, and every request goes through the clients' pipeline, paced under ARM's read budget.
A read refused with 403 (a subscription or scope the caller may not read) does not end the snapshot: what
could not be read, and why, is recorded for the rehearsal to report as unknown. Only the workspace itself
must be readable.

Also read, because they make the real move refuse: the caller's permissions at the scopes the move acts on
(``GET {scope}/providers/Microsoft.Authorization/permissions``) and the Azure Policy assignments that apply in
the target with their definitions (GETs; checkPolicyRestrictions is a POST, and a snapshot only reads).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Any

from amlops.azure import rest
from amlops.azure.clients import POOL_SIZE, Clients
from amlops.azure.permissions import SEGMENT as PERMISSIONS
from amlops.azure.resources import SUBSCRIPTIONS_API
from amlops.azure.workspaces import ASSET_KINDS
from amlops.errors import AuthenticationFailed, InvalidInput, NotFound
from amlops.models import ResourceId, SubscriptionReads, WorkspaceReads

RESOURCES_API = "2025-04-01"  # resource groups and providers, as azure-mgmt-resource 26 sends
LOCKS_API = "2020-05-01"  # Microsoft.Authorization/stable/2020-05-01/locks.json
POLICY_API = "2023-04-01"  # Microsoft.Authorization/policy/stable/2023-04-01: policyAssignments, policyDefinitions
# A generic GET needs an api-version the resource's provider serves.
PROVIDER_APIS = {
    "microsoft.storage/storageaccounts": "2023-05-01",
    "microsoft.keyvault/vaults": "2023-07-01",
    "microsoft.containerregistry/registries": "2023-07-01",
    "microsoft.insights/components": "2020-02-02",
    "microsoft.containerservice/managedclusters": "2024-05-01",
    "microsoft.databricks/workspaces": "2024-05-01",
}
GENERIC_API = "2021-04-01"


def _api_for(resource_id: str) -> str:
    return PROVIDER_APIS.get(ResourceId.parse(resource_id).type.lower(), GENERIC_API)


def _pages(clients: Clients, path: str, api: str, query: dict[str, str] | None = None) -> list[dict[str, Any]]:
    return list(rest.pages(clients, path.split("/")[2], path, api, query))


def _get(clients: Clients, path: str, api: str, subscription: str | None = None) -> dict[str, Any]:
    """A GET; ``subscription`` names whose read budget it spends when the path has none (a built-in definition)."""
    return rest.send(clients, subscription or path.split("/")[2], "GET", path, api)


def _list_or_empty(clients: Clients, path: str, api: str, query: dict[str, str] | None = None) -> list[dict[str, Any]]:
    try:
        return _pages(clients, path, api, query)
    except NotFound:  # the scope does not exist (a target group not created yet): nothing there
        return []



def _list_or_none(clients: Clients, path: str, api: str) -> list[dict[str, Any]] | None:
    try:
        return _pages(clients, path, api)
    except NotFound:  # the scope does not exist
        return None


def _get_or_none(clients: Clients, path: str, api: str, subscription: str | None = None) -> dict[str, Any] | None:
    try:
        return _get(clients, path, api, subscription)
    except NotFound:
        return None


_POOL: ThreadPoolExecutor | None = None
_POOL_LOCK = threading.Lock()


def _pool() -> ThreadPoolExecutor:
    """One pool of reader threads per process: starting threads costs more than the reads they make."""
    global _POOL
    with _POOL_LOCK:
        if _POOL is None:
            _POOL = ThreadPoolExecutor(max_workers=POOL_SIZE, thread_name_prefix="amlops-read")
        return _POOL


class _Reads:
    """A tiny scheduler: reads run on a pool; a read's continuation runs here and may start more reads."""

    def __init__(self, pool: ThreadPoolExecutor) -> None:
        self._pool = pool
        self._pending: dict[Future[Any], Callable[[Any], None]] = {}

    def start(self, then: Callable[[Any], None], fn: Callable[..., Any], *args: Any) -> None:
        self._pending[self._pool.submit(fn, *args)] = then

    def run(self) -> None:
        while self._pending:
            done, _ = wait(list(self._pending), return_when=FIRST_COMPLETED)
            for future in done:
                then = self._pending.pop(future)
                then(future.result())  # re-raises the read's error; the pool finishes what is running


def read_workspace(clients: Clients, workspace: ResourceId, target_subscription: str | None = None, target_resource_group: str | None = None) -> WorkspaceReads:
    """Every body a move of ``workspace`` touches, and the target's subscription and resource group if named."""
    wid = str(workspace.require_workspace())
    ws_path = lambda segment: f"{wid}/{segment}"  # noqa: E731 - a one-line path helper
    ml = rest.ML_API
    reads = WorkspaceReads(workspace={}, target_subscription=target_subscription, target_resource_group=target_resource_group)
    subscriptions = {workspace.subscription.lower()} | ({target_subscription.lower()} if target_subscription else set())
    groups = {workspace.group_id.lower(): workspace.group_id}
    if target_subscription and target_resource_group:
        groups.setdefault(f"/subscriptions/{target_subscription}/resourcegroups/{target_resource_group}".lower(), f"/subscriptions/{target_subscription}/resourceGroups/{target_resource_group}")
    work = _Reads(_pool())

    def tolerant(what: str, unknown: str, fn: Callable[..., Any], default: Any) -> Callable[..., Any]:
        """``fn``, except that a 403 is recorded as something the snapshot could not read, with ``default`` as its answer."""

        def read(*args: Any) -> Any:
            try:
                return fn(*args)
            except AuthenticationFailed as err:
                if err.status != 403:  # 401: the credentials themselves were refused; nothing can be read
                    raise
                reads.unread.append({"what": f"could not read {what}", "why": f"{err.code}: {err.message}", "unknown": unknown})
                return default

        return read

    def keep(into: list[dict[str, Any]]) -> Callable[[Any], None]:
        return lambda found: into.extend(found if isinstance(found, list) else [found] if found else [])

    def subscription(sub: str) -> None:
        def read() -> SubscriptionReads:
            tenant = _get(clients, f"/subscriptions/{sub}", SUBSCRIPTIONS_API)["tenantId"]
            providers = {p["namespace"]: p.get("registrationState", "NotRegistered") for p in _pages(clients, f"/subscriptions/{sub}/providers", RESOURCES_API)}
            return SubscriptionReads(id=sub, tenant_id=tenant, providers=providers)

        unknown = "whether it is in the workspace's tenant and has the resource providers the move needs registered"
        work.start(reads.subscriptions.append, tolerant(f"subscription {sub}", unknown, read, SubscriptionReads(id=sub, tenant_id="", providers={}, readable=False)))
        assignments(f"/subscriptions/{sub}")
        locks = f"/subscriptions/{sub}/providers/Microsoft.Authorization/locks"
        work.start(keep(reads.locks), tolerant(f"the management locks in subscription {sub}", "whether a lock there refuses the move's deletes, the move or the rebuild", _pages, []), clients, locks, LOCKS_API)

    def group(group_id: str) -> None:
        """A resource group and the grants made on it; the target group may not exist yet."""
        work.start(keep(reads.resource_groups), tolerant(f"resource group {group_id}", "whether it exists and in which region", _get_or_none, None), clients, group_id, RESOURCES_API)
        assignments(group_id)

    def assignments(scope: str) -> None:
        exact = lambda found: reads.role_assignments.extend(a for a in found if (a.get("properties") or {}).get("scope", "").lower().rstrip("/") == scope.lower().rstrip("/"))  # noqa: E731
        unknown = "which role assignments there the move leaves behind and must re-create"
        work.start(exact, tolerant(f"the role assignments at {scope}", unknown, _list_or_empty, []), clients, scope + "/providers/Microsoft.Authorization/roleAssignments", rest.AUTH_API, {"$filter": "atScope()"})

    def permissions(scope: str) -> None:
        """What the caller may do at a scope the move acts on: its denials become the rehearsal's."""

        def kept(found: list[dict[str, Any]]) -> None:
            if found:
                reads.permissions[scope] = found

        unknown = "whether you may perform the move's actions there"
        work.start(kept, tolerant(f"your permissions at {scope}", unknown, _list_or_empty, []), clients, scope + PERMISSIONS, rest.AUTH_API)

    seen: set[str] = set()

    def resource(resource_id: str) -> None:
        """An associated resource or attached cluster, its group and subscription too when they are new."""
        if resource_id.lower() in seen:
            return
        seen.add(resource_id.lower())
        rid = ResourceId.parse(resource_id)
        if rid.subscription not in subscriptions:
            subscriptions.add(rid.subscription)
            subscription(rid.subscription)
        if rid.group_id.lower() not in groups:
            groups[rid.group_id.lower()] = rid.group_id
            group(rid.group_id)
        # Absent (a deleted key vault the workspace still names): the rehearsal meets it as the move would.
        unknown = "whether it exists and can move with the workspace"
        work.start(keep(reads.resources), tolerant(f"resource {resource_id}", unknown, _get_or_none, None), clients, resource_id, _api_for(resource_id))
        assignments(resource_id)

    def workspace_read(body: dict[str, Any]) -> None:
        reads.workspace = body
        props = body.get("properties") or {}
        for name in ("storageAccount", "keyVault", "containerRegistry", "applicationInsights"):
            if props.get(name):
                resource(props[name])

    def computes_read(found: list[dict[str, Any]]) -> None:
        reads.computes.extend(found)
        for c in found:
            if (c.get("properties") or {}).get("resourceId"):
                resource(c["properties"]["resourceId"])

    def endpoints_read(kind: str, into: list[dict[str, Any]], deployments: dict[str, list[dict[str, Any]]]) -> Any:
        def read(found: list[dict[str, Any]]) -> None:
            into.extend(found)
            for e in found:
                name: str = e["name"]

                def keep(d: list[dict[str, Any]], n: str = name) -> None:
                    deployments[n] = d

                work.start(keep, children(f"{kind}/{name}/deployments"), clients, ws_path(f"{kind}/{name}/deployments"), ml)

        return read

    def assets_read(found: list[dict[str, Any]]) -> None:
        reads.assets.extend(found)
        for container in found:
            work.start(keep(reads.assets), children(container["id"][len(wid) + 1 :] + "/versions"), clients, container["id"] + "/versions", ml)

    def children(segment: str) -> Callable[..., Any]:
        return tolerant(f"the workspace's {segment}", "what the move must delete, re-create or verify there", _pages, [])

    def target_group_read(found: list[dict[str, Any]] | None) -> None:
        """The target group's resources (names the move would clash with); then the caller's permissions there,
        which the Permissions API answers only for a group that exists."""
        if found is None:
            reads.unread.append({"what": f"could not read your permissions at {target_group}", "why": "the resource group does not exist yet, and the Permissions API answers only for resource groups and resources",
                                 "unknown": "whether you may create it and write in it"})  # fmt: skip
            return
        reads.target_resources.extend(found)
        permissions(target_group)

    def policy_read(found: list[dict[str, Any]]) -> None:
        reads.policy_assignments.extend(found)
        for definition in sorted({(a.get("properties") or {}).get("policyDefinitionId", "") for a in found} - {""}):
            definition_read(definition)

    def definition_read(definition_id: str) -> None:
        """A policy definition, or an initiative and then each of its members' definitions."""
        if definition_id.lower() in requested:
            return
        requested.add(definition_id.lower())
        kind = "initiative" if "/policysetdefinitions/" in definition_id.lower() else "policy definition"
        unknown = "whether it denies what the move creates in the target"
        work.start(keep_definition, tolerant(f"{kind} {definition_id}", unknown, _get_or_none, None), clients, definition_id, POLICY_API, target_subscription)

    requested: set[str] = set()

    def keep_definition(body: dict[str, Any] | None) -> None:
        if body:
            reads.policy_definitions[body["id"].lower()] = body
            for member in (body.get("properties") or {}).get("policyDefinitions") or []:  # an initiative's
                definition_read(member["policyDefinitionId"])

    def policies(scope: str) -> None:
        """Assignments that apply at ``scope`` (at it and above it, management groups included), or at the
        subscription when the target group does not exist yet."""

        def read() -> list[dict[str, Any]]:
            try:
                return _pages(clients, scope + "/providers/Microsoft.Authorization/policyAssignments", POLICY_API, {"$filter": "atScope()"})
            except NotFound:
                reads.policy_scope = f"/subscriptions/{target_subscription}"
                return _pages(clients, reads.policy_scope + "/providers/Microsoft.Authorization/policyAssignments", POLICY_API, {"$filter": "atScope()"})

        reads.policy_scope = scope
        work.start(policy_read, tolerant(f"the Azure Policy assignments at {scope}", "whether Azure Policy denies what the move creates in the target", read, []))

    work.start(workspace_read, _get, clients, wid, ml)
    work.start(computes_read, children("computes"), clients, ws_path("computes"), ml)
    work.start(endpoints_read("onlineEndpoints", reads.online_endpoints, reads.deployments), children("onlineEndpoints"), clients, ws_path("onlineEndpoints"), ml)
    work.start(endpoints_read("batchEndpoints", reads.batch_endpoints, reads.batch_deployments), children("batchEndpoints"), clients, ws_path("batchEndpoints"), ml)
    work.start(keep(reads.datastores), children("datastores"), clients, ws_path("datastores"), ml)
    work.start(keep(reads.connections), children("privateEndpointConnections"), clients, ws_path("privateEndpointConnections"), ml)
    work.start(keep(reads.schedules), children("schedules"), clients, ws_path("schedules"), ml, {"listViewType": "All"})
    for kind in ASSET_KINDS:
        work.start(assets_read, children(kind), clients, ws_path(kind), ml)
    for sub in sorted(subscriptions):
        subscription(sub)
    for group_id in list(groups.values()):
        group(group_id)
    permissions(workspace.group_id)
    permissions(wid)
    if target_subscription and target_resource_group:
        target_group = f"/subscriptions/{target_subscription}/resourceGroups/{target_resource_group}"
        unknown = "whether one has the name of a resource the move brings"
        work.start(target_group_read, tolerant(f"the resources in {target_group}", unknown, _list_or_none, []), clients, target_group + "/resources", RESOURCES_API)
        policies(target_group)
    elif target_subscription:
        policies(f"/subscriptions/{target_subscription}")
    assignments(wid)
    try:
        work.run()
    except NotFound as err:
        if _get_or_none(clients, wid, ml) is None:  # every read below a missing workspace fails: say which one
            raise InvalidInput(f"No workspace {wid}: {err.message} Check the id (az ml workspace show).") from err
        raise
    _order(reads)
    return reads


def _order(reads: WorkspaceReads) -> None:
    """Reads finish in any order; a snapshot lists them in a stable one."""
    for name in ("resource_groups", "resources", "target_resources", "role_assignments", "locks", "assets"):
        unique = {b["id"].lower(): b for b in getattr(reads, name)}  # a lock may be listed at two subscriptions' scopes
        setattr(reads, name, [unique[k] for k in sorted(unique)])
    reads.subscriptions.sort(key=lambda s: s.id)
    reads.policy_assignments = sorted({a["id"].lower(): a for a in reads.policy_assignments}.values(), key=lambda a: a["id"].lower())
    reads.unread.sort(key=lambda u: u["what"])
