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

import functools
import threading
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Any

from amlops.azure import locks, rest, roles
from amlops.azure.clients import POOL_SIZE, Clients
from amlops.azure.computes import COMPUTES
from amlops.azure.datastores import DATASTORES
from amlops.azure.network import CONNECTIONS
from amlops.azure.permissions import SEGMENT as PERMISSIONS
from amlops.azure.resources import subscription_tenant
from amlops.azure.workspaces import ASSET_KINDS
from amlops.errors import AuthenticationFailed, InvalidInput, NotFound
from amlops.models import ResourceId, SubscriptionReads, WorkspaceReads

RESOURCES_API = "2025-04-01"  # resource groups and providers, as azure-mgmt-resource 26 sends
POLICY_API = "2023-04-01"  # Microsoft.Authorization/policy/stable/2023-04-01: policyAssignments, policyDefinitions
POLICY_ASSIGNMENTS = "/providers/Microsoft.Authorization/policyAssignments"
AT_SCOPE = {"$filter": "atScope()"}
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
ASSOCIATED = ("storageAccount", "keyVault", "containerRegistry", "applicationInsights")  # the workspace's properties naming them
CHILDREN_UNKNOWN = "what the move must delete, re-create or verify there"


def _api_for(resource_id: str) -> str:
    return PROVIDER_APIS.get(ResourceId.parse(resource_id).type.lower(), GENERIC_API)


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


_RAISE: Any = object()  # a read whose 404 ends the snapshot: the workspace, a subscription, a collection below the workspace


class WorkspaceReader:
    """One snapshot's reads (one use: ``read()``), a method per kind of read. Each starts its request on the shared
    pool; its continuation (``_on_...``, run on the caller's thread) keeps the bodies and starts the reads that
    depend on them. Requests go through the gateway's paths (``rest``, the per-kind modules' segments)."""

    def __init__(self, clients: Clients, workspace: ResourceId, target_subscription: str | None = None, target_resource_group: str | None = None) -> None:
        self.clients = clients
        self.workspace = workspace.require_workspace()
        self.wid = str(self.workspace)
        self.target_subscription = target_subscription
        self.target_group = f"/subscriptions/{target_subscription}/resourceGroups/{target_resource_group}" if target_subscription and target_resource_group else None
        self.reads = WorkspaceReads(workspace={}, target_subscription=target_subscription, target_resource_group=target_resource_group)
        self._work = _Reads(_pool())
        # What was asked for already, lower-cased: each subscription, group, resource and definition is read once.
        self._subscriptions = {workspace.subscription.lower()} | ({target_subscription.lower()} if target_subscription else set())
        self._groups = {workspace.group_id.lower(): workspace.group_id}
        if self.target_group:
            self._groups.setdefault(self.target_group.lower(), self.target_group)
        self._resources: set[str] = set()
        self._definitions: set[str] = set()

    def read(self) -> WorkspaceReads:
        """Every body a move of the workspace touches, and the target's subscription and resource group if named."""
        self._work.start(self._on_workspace, rest.get_by_id, self.clients, self.wid, rest.ML_API)
        self.children(COMPUTES.segment, self._on_computes)
        self.children("onlineEndpoints", self._on_endpoints("onlineEndpoints", self.reads.online_endpoints, self.reads.deployments))
        self.children("batchEndpoints", self._on_endpoints("batchEndpoints", self.reads.batch_endpoints, self.reads.batch_deployments))
        self.children(DATASTORES.segment, _keep(self.reads.datastores))
        self.children(CONNECTIONS.segment, _keep(self.reads.connections))
        self.children("schedules", _keep(self.reads.schedules), {"listViewType": "All"})
        for kind in ASSET_KINDS:
            self.children(kind, self._on_assets)
        for sub in sorted(self._subscriptions):
            self.subscription(sub)
        for group_id in list(self._groups.values()):
            self.group(group_id)
        self.permissions(self.workspace.group_id)
        self.permissions(self.wid)
        if self.target_group:
            self.target_resources(self.target_group)
            self.policies(self.target_group)
        elif self.target_subscription:
            self.policies(f"/subscriptions/{self.target_subscription}")
        self.assignments(self.wid)
        try:
            self._work.run()
        except NotFound as err:
            if _or(None, rest.get_by_id, self.clients, self.wid, rest.ML_API) is None:  # every read below a missing workspace fails: say which one
                raise InvalidInput(f"No workspace {self.wid}: {err.message} Check the id (az ml workspace show).") from err
            raise
        _order(self.reads)
        return self.reads

    # -- reads, one method per kind

    def children(self, segment: str, then: Callable[[Any], None], query: dict[str, str] | None = None) -> None:
        """One of the workspace's collections (computes, endpoints, datastores, ...), every page."""
        self._read(then, f"the workspace's {segment}", CHILDREN_UNKNOWN, self._list, rest.child_path(self.workspace, segment), rest.ML_API, query, unreadable=[])

    def subscription(self, sub: str) -> None:
        """A subscription's tenant and provider registrations, the grants made on it and the locks in it."""
        unknown = "whether it is in the workspace's tenant and has the resource providers the move needs registered"
        unreadable = SubscriptionReads(id=sub, tenant_id="", providers={}, readable=False)
        self._read(self.reads.subscriptions.append, f"subscription {sub}", unknown, self._subscription, sub, unreadable=unreadable)
        self.assignments(f"/subscriptions/{sub}")
        self._read(_keep(self.reads.locks), f"the management locks in subscription {sub}", "whether a lock there refuses the move's deletes, the move or the rebuild",
                   self._list, f"/subscriptions/{sub}" + locks.SEGMENT, locks.LOCKS_API, unreadable=[])  # fmt: skip

    def group(self, group_id: str) -> None:
        """A resource group and the grants made on it; the target group may not exist yet."""
        unknown = "whether it exists and in which region"
        self._read(_keep(self.reads.resource_groups), f"resource group {group_id}", unknown, self._get, group_id, RESOURCES_API, unreadable=None, missing=None)
        self.assignments(group_id)

    def assignments(self, scope: str) -> None:
        """The role assignments made exactly at ``scope``."""

        def exact(found: list[dict[str, Any]]) -> None:
            self.reads.role_assignments.extend(a for a in found if (a.get("properties") or {}).get("scope", "").lower().rstrip("/") == scope.lower().rstrip("/"))

        unknown = "which role assignments there the move leaves behind and must re-create"
        self._read(exact, f"the role assignments at {scope}", unknown, self._list, scope + roles.SEGMENT, rest.AUTH_API, AT_SCOPE, unreadable=[], missing=[])

    def permissions(self, scope: str) -> None:
        """What the caller may do at a scope the move acts on: its denials become the rehearsal's."""

        def kept(found: list[dict[str, Any]]) -> None:
            if found:
                self.reads.permissions[scope] = found

        unknown = "whether you may perform the move's actions there"
        self._read(kept, f"your permissions at {scope}", unknown, self._list, scope + PERMISSIONS, rest.AUTH_API, unreadable=[], missing=[])

    def resource(self, resource_id: str) -> None:
        """An associated resource or attached cluster, its group and subscription too when they are new."""
        if resource_id.lower() in self._resources:
            return
        self._resources.add(resource_id.lower())
        rid = ResourceId.parse(resource_id)
        if rid.subscription not in self._subscriptions:
            self._subscriptions.add(rid.subscription)
            self.subscription(rid.subscription)
        if rid.group_id.lower() not in self._groups:
            self._groups[rid.group_id.lower()] = rid.group_id
            self.group(rid.group_id)
        # Absent (a deleted key vault the workspace still names): the rehearsal meets it as the move would.
        unknown = "whether it exists and can move with the workspace"
        self._read(_keep(self.reads.resources), f"resource {resource_id}", unknown, self._get, resource_id, _api_for(resource_id), unreadable=None, missing=None)
        self.assignments(resource_id)

    def target_resources(self, group_id: str) -> None:
        """What the target group holds (names the move would clash with); None when it does not exist yet."""
        unknown = "whether one has the name of a resource the move brings"
        then = functools.partial(self._on_target_group, group_id)
        self._read(then, f"the resources in {group_id}", unknown, self._list, group_id + "/resources", RESOURCES_API, unreadable=[], missing=None)

    def policies(self, scope: str) -> None:
        """Assignments that apply at ``scope`` (at it and above it, management groups included), or at the
        subscription when the target group does not exist yet; then their definitions."""
        self.reads.policy_scope = scope
        unknown = "whether Azure Policy denies what the move creates in the target"
        self._read(self._on_policy_assignments, f"the Azure Policy assignments at {scope}", unknown, self._policy_assignments, scope, unreadable=[])

    def definition(self, definition_id: str) -> None:
        """A policy definition, or an initiative and then each of its members' definitions."""
        if definition_id.lower() in self._definitions:
            return
        self._definitions.add(definition_id.lower())
        kind = "initiative" if "/policysetdefinitions/" in definition_id.lower() else "policy definition"
        unknown = "whether it denies what the move creates in the target"
        # A built-in definition's path names no subscription: it spends the target's read budget.
        self._read(self._on_definition, f"{kind} {definition_id}", unknown, self._get, definition_id, POLICY_API, self.target_subscription, unreadable=None, missing=None)

    # -- continuations: keep what arrived, start what depends on it

    def _on_workspace(self, body: dict[str, Any]) -> None:
        self.reads.workspace = body
        props = body.get("properties") or {}
        for name in ASSOCIATED:
            if props.get(name):
                self.resource(props[name])

    def _on_computes(self, found: list[dict[str, Any]]) -> None:
        self.reads.computes.extend(found)
        for c in found:
            if (c.get("properties") or {}).get("resourceId"):
                self.resource(c["properties"]["resourceId"])

    def _on_endpoints(self, kind: str, into: list[dict[str, Any]], deployments: dict[str, list[dict[str, Any]]]) -> Callable[[list[dict[str, Any]]], None]:
        def found(endpoints: list[dict[str, Any]]) -> None:
            into.extend(endpoints)
            for e in endpoints:
                name: str = e["name"]

                def keep(found: list[dict[str, Any]], name: str = name) -> None:
                    deployments[name] = found

                self.children(f"{kind}/{name}/deployments", keep)

        return found

    def _on_assets(self, found: list[dict[str, Any]]) -> None:
        self.reads.assets.extend(found)
        for container in found:  # by the id Azure gave the container
            segment = container["id"][len(self.wid) + 1 :] + "/versions"
            self._read(_keep(self.reads.assets), f"the workspace's {segment}", CHILDREN_UNKNOWN, self._list, container["id"] + "/versions", rest.ML_API, unreadable=[])

    def _on_target_group(self, group_id: str, found: list[dict[str, Any]] | None) -> None:
        """Then the caller's permissions there, which the Permissions API answers only for a group that exists."""
        if found is None:
            self.reads.unread.append({"what": f"could not read your permissions at {group_id}", "why": "the resource group does not exist yet, and the Permissions API answers only for resource groups and resources",
                                      "unknown": "whether you may create it and write in it"})  # fmt: skip
            return
        self.reads.target_resources.extend(found)
        self.permissions(group_id)

    def _on_policy_assignments(self, found: list[dict[str, Any]]) -> None:
        self.reads.policy_assignments.extend(found)
        for definition in sorted({(a.get("properties") or {}).get("policyDefinitionId", "") for a in found} - {""}):
            self.definition(definition)

    def _on_definition(self, body: dict[str, Any] | None) -> None:
        if body:
            self.reads.policy_definitions[body["id"].lower()] = body
            for member in (body.get("properties") or {}).get("policyDefinitions") or []:  # an initiative's
                self.definition(member["policyDefinitionId"])

    # -- the requests, run on the pool

    def _subscription(self, sub: str) -> SubscriptionReads:
        tenant = subscription_tenant(self.clients, sub)
        providers = {p["namespace"]: p.get("registrationState", "NotRegistered") for p in self._list(f"/subscriptions/{sub}/providers", RESOURCES_API)}
        return SubscriptionReads(id=sub, tenant_id=tenant, providers=providers)

    def _policy_assignments(self, scope: str) -> list[dict[str, Any]]:
        try:
            return self._list(scope + POLICY_ASSIGNMENTS, POLICY_API, AT_SCOPE)
        except NotFound:  # the target group does not exist yet: what applies at its subscription
            self.reads.policy_scope = f"/subscriptions/{self.target_subscription}"
            return self._list(self.reads.policy_scope + POLICY_ASSIGNMENTS, POLICY_API, AT_SCOPE)

    def _list(self, path: str, api: str, query: dict[str, str] | None = None) -> list[dict[str, Any]]:
        return list(rest.pages(self.clients, path.split("/")[2], path, api, query))

    def _get(self, path: str, api: str, subscription: str | None = None) -> dict[str, Any]:
        """A GET; ``subscription`` names whose read budget it spends when the path has none (a built-in definition)."""
        return rest.send(self.clients, subscription or path.split("/")[2], "GET", path, api)

    def _read(self, then: Callable[[Any], None], what: str, unknown: str, fn: Callable[..., Any], *args: Any, unreadable: Any, missing: Any = _RAISE) -> None:
        """Start ``fn(*args)``; ``then`` gets its answer. Refused with 403, the snapshot goes on: what could not be read,
        and why, is recorded and ``unreadable`` is the answer. Not found (404), ``missing`` is, unless that is _RAISE."""

        def read() -> Any:
            try:
                return fn(*args) if missing is _RAISE else _or(missing, fn, *args)
            except AuthenticationFailed as err:
                if err.status != 403:  # 401: the credentials themselves were refused; nothing can be read
                    raise
                self.reads.unread.append({"what": f"could not read {what}", "why": f"{err.code}: {err.message}", "unknown": unknown})
                return unreadable

        self._work.start(then, read)


def read_workspace(clients: Clients, workspace: ResourceId, target_subscription: str | None = None, target_resource_group: str | None = None) -> WorkspaceReads:
    """Every body a move of ``workspace`` touches, and the target's subscription and resource group if named."""
    return WorkspaceReader(clients, workspace, target_subscription, target_resource_group).read()


def _keep(into: list[dict[str, Any]]) -> Callable[[Any], None]:
    """A continuation that keeps a listed page, or a single body (none when absent)."""
    return lambda found: into.extend(found if isinstance(found, list) else [found] if found else [])


def _or(default: Any, fn: Callable[..., Any], *args: Any) -> Any:
    """``fn(*args)``, or ``default`` when what it reads does not exist (404)."""
    try:
        return fn(*args)
    except NotFound:
        return default


def _order(reads: WorkspaceReads) -> None:
    """Reads finish in any order; a snapshot lists them in a stable one."""
    for name in ("resource_groups", "resources", "target_resources", "role_assignments", "locks", "assets"):
        unique = {b["id"].lower(): b for b in getattr(reads, name)}  # a lock may be listed at two subscriptions' scopes
        setattr(reads, name, [unique[k] for k in sorted(unique)])
    reads.subscriptions.sort(key=lambda s: s.id)
    reads.policy_assignments = sorted({a["id"].lower(): a for a in reads.policy_assignments}.values(), key=lambda a: a["id"].lower())
    reads.unread.sort(key=lambda u: u["what"])
