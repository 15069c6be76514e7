"""A workspace as an emulator scenario: what a move touches, read from ARM, turned into data a laptop can load.

Pure: the gateway (amlops.azure.reads) fills a ``WorkspaceReads`` with bodies exactly as ARM returned them;
``build_scenario`` keeps what the emulator's scenario loader takes and drops what must never leave Azure.
No secret reaches a scenario: nothing from listKeys or listSecrets is ever read, a datastore keeps its
credential type with a placeholder where the secret was, and any field that names a key, password,
token or connection string is replaced by the placeholder wherever it appears.

What makes the real move refuse travels too (amlops.refusals): the caller's permissions become the scenario's
``denied_actions`` and the deny policies assigned in the target its ``policies``. What could not be read (403)
or judged is listed in ``snapshot.unknowns`` for the rehearsal to report.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

from amlops import refusals
from amlops.models import WorkspaceReads, extension_scope
from amlops.refusals import under

PLACEHOLDER = "amlops-snapshot-placeholder-not-a-secret"
# Field names whose values are secrets wherever they appear (compared case-insensitively).
SECRET_FIELDS = frozenset(
    name.lower()
    for name in (
        "key", "sasToken", "clientSecret", "certificate", "password", "adminUserPassword", "connectionString",
        "instrumentationKey", "primaryKey", "secondaryKey", "accountKey", "accessKey", "primaryConnectionString",
        "secondaryConnectionString", "secret", "token", "primaryMasterKey", "secondaryMasterKey",
    )
)  # fmt: skip
# The secret each datastore credential type carries (azure-ai-ml's DatastoreSecrets subtypes).
DATASTORE_SECRET = {"AccountKey": "key", "Sas": "sasToken", "ServicePrincipal": "clientSecret", "Certificate": "certificate"}
# Fields ARM adds to every body that a scenario does not declare.
ENVELOPE = ("id", "type", "systemData", "etag")
def scrub(value: Any) -> Any:
    """A deep copy with every secret-named field's value replaced by the placeholder."""
    if isinstance(value, dict):
        return {k: (PLACEHOLDER if k.lower() in SECRET_FIELDS and isinstance(v, str) and v else scrub(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [scrub(v) for v in value]
    return copy.deepcopy(value)


def _declared(body: dict[str, Any], *drop: str) -> dict[str, Any]:
    """A body as a scenario declares it: ARM's envelope and the named fields left out, secrets scrubbed."""
    return scrub({k: v for k, v in body.items() if k not in ENVELOPE and k not in drop and v is not None})


def _parent(resource_id: str, depth: int) -> str:
    return "/".join(resource_id.split("/")[:depth])


def scope_of(body: dict[str, Any], segment: str) -> str:
    return extension_scope(body["id"], segment)


def touched_scopes(reads: WorkspaceReads) -> list[str]:
    """The scopes a move acts on or is refused at: subscriptions, resource groups, the workspace and the
    resources around it (associated resources, attached clusters), and the target resource group."""
    ws = reads.workspace["id"]
    scopes = [_parent(ws, 3), _parent(ws, 5), ws]
    scopes += [r["id"] for r in reads.resources] + [g["id"] for g in reads.resource_groups]
    scopes += [f"/subscriptions/{s.id}" for s in reads.subscriptions]
    if reads.target_subscription and reads.target_resource_group:
        scopes.append(f"/subscriptions/{reads.target_subscription}/resourceGroups/{reads.target_resource_group}")
    seen: dict[str, str] = {}
    for s in scopes:
        seen.setdefault(s.lower().rstrip("/"), s)
    return list(seen.values())


def lock_applies(lock_scope: str, scopes: list[str], workspace_id: str) -> bool:
    """A lock matters to the move when it sits on a touched scope or above it, or inside the workspace."""
    return under(lock_scope, workspace_id) or any(under(s, lock_scope) for s in scopes)


def name_clashes(reads: WorkspaceReads) -> list[dict[str, Any]]:
    """Resources in the target group with the type and name of the workspace or one of its associated resources:
    Azure refuses a move onto them, so a rehearsal must meet them too."""
    moving = {(resource_type(r["id"]), r["id"].rsplit("/", 1)[-1].lower()) for r in [reads.workspace, *reads.resources]}
    return [r for r in reads.target_resources if (resource_type(r["id"]), r["name"].lower()) in moving]


def resource_type(resource_id: str) -> str:
    """``.../providers/NS/type/name`` -> ``ns/type`` (lower-cased), for top-level resources."""
    parts = resource_id.split("/providers/", 1)[-1].split("/")
    return f"{parts[0]}/{parts[1]}".lower() if len(parts) > 2 else ""


def relevant_locks(reads: WorkspaceReads) -> list[dict[str, Any]]:
    """The locks read (one list per subscription) that a move of this workspace meets."""
    scopes = touched_scopes(reads)
    return [lk for lk in reads.locks if lock_applies(scope_of(lk, "Microsoft.Authorization/locks"), scopes, reads.workspace["id"])]


def _datastore(body: dict[str, Any]) -> dict[str, Any]:
    declared = _declared(body)
    props = declared.setdefault("properties", {})
    props.pop("isDefault", None)  # Azure decides which datastore is the default
    credentials = props.get("credentials") or {"credentialsType": "None"}
    kind = credentials.get("credentialsType", "None")
    if kind in DATASTORE_SECRET:  # the type is kept; the secret itself is never read: a placeholder stands in
        secrets_type = (credentials.get("secrets") or {}).get("secretsType") or kind
        credentials["secrets"] = {"secretsType": secrets_type, DATASTORE_SECRET[kind]: PLACEHOLDER}
    props["credentials"] = credentials
    return declared


def _connection(body: dict[str, Any]) -> dict[str, Any]:
    props = body.get("properties") or {}
    state = props.get("privateLinkServiceConnectionState") or {}
    return {
        "name": body["name"],
        "private_endpoint": (props.get("privateEndpoint") or {}).get("id", ""),
        "status": state.get("status", "Pending"),
        "description": state.get("description") or "",
    }


def _assignment(body: dict[str, Any], with_scope: bool) -> dict[str, Any]:
    props = body.get("properties") or {}
    wanted = ("roleDefinitionId", "principalId", "principalType", "description", "condition", "conditionVersion", "createdOn")
    declared = {"name": body["name"], **{k: props[k] for k in wanted if props.get(k) is not None}}
    if with_scope:
        declared["scope"] = props.get("scope") or scope_of(body, "Microsoft.Authorization/roleAssignments")
    return declared


def _lock(body: dict[str, Any]) -> dict[str, Any]:
    props = body.get("properties") or {}
    return {"scope": scope_of(body, "Microsoft.Authorization/locks"), "name": body["name"], "level": props.get("level", "NotSpecified"), "notes": props.get("notes") or "", "owners": props.get("owners") or []}


def _asset(workspace_id: str, body: dict[str, Any]) -> dict[str, Any]:
    return {"path": body["id"][len(workspace_id) + 1 :], "properties": scrub(body.get("properties") or {})}


def _region(reads: WorkspaceReads, subscription: str) -> str:
    """A subscription has no region; the scenario's default location is that of its first resource group."""
    for group in reads.resource_groups:
        if group["id"].split("/")[2].lower() == subscription.lower():
            return group["location"]
    return reads.workspace.get("location", "")


def _deny_policies(reads: WorkspaceReads) -> tuple[list[dict[str, Any]], list[dict[str, str]]]:
    """The target's deny policies in scenario terms, and those a rehearsal cannot judge."""
    if not reads.policy_scope or not reads.target_subscription:
        return [], []
    return refusals.deny_policies(reads.policy_assignments, reads.policy_definitions, reads.policy_scope, reads.target_subscription)


def unknowns(reads: WorkspaceReads) -> list[dict[str, str]]:
    """Everything the rehearsal cannot tell from this snapshot, each with why."""
    found = list(reads.unread)
    if not reads.target_subscription:
        found.append({"what": "did not read the target", "why": "the snapshot was taken without --target-subscription", "unknown": "whether Azure Policy or your permissions in the target refuse the move"})
    return found + _deny_policies(reads)[1]


def _declared_subscriptions(reads: WorkspaceReads) -> list[dict[str, Any]]:
    """The subscriptions read; one the caller may not read is declared in the source's tenant with the emulator's
    provider defaults so what lives in it loads, except the target, whose declaration the rehearsal assumes."""
    source = reads.workspace["id"].split("/")[2].lower()
    tenant = next((s.tenant_id for s in reads.subscriptions if s.id.lower() == source and s.readable), "")
    declared = []
    for s in reads.subscriptions:
        if s.readable:
            declared.append({"id": s.id, "tenant": s.tenant_id, "region": _region(reads, s.id), "providers": dict(s.providers)})
        elif s.id.lower() != (reads.target_subscription or "").lower():
            declared.append({k: v for k, v in {"id": s.id, "tenant": tenant, "region": _region(reads, s.id)}.items() if v})
    return declared


def _groups(reads: WorkspaceReads) -> list[dict[str, Any]]:
    """The resource groups read, and any group that holds what the scenario declares but could not be read."""
    groups = [{"id": g["id"], "location": g["location"], "tags": g.get("tags") or {}} for g in reads.resource_groups]
    have = {g["id"].lower() for g in groups}
    for body in [reads.workspace, *reads.resources]:
        group = _parent(body["id"], 5)
        if group.lower() not in have:
            have.add(group.lower())
            groups.append({"id": group, "location": reads.workspace.get("location", ""), "tags": {}})
    return groups


def build_scenario(reads: WorkspaceReads, source: str = "", taken_at: str | None = None) -> dict[str, Any]:
    """The scenario that rebuilds what the move touches, in the format ``amlops emulator --scenario`` loads."""
    ws = reads.workspace
    wid = ws["id"]
    workspace = _declared(ws)
    workspace["id"] = wid
    workspace["properties"] = {k: v for k, v in workspace.get("properties", {}).items() if k != "privateEndpointConnections"}
    workspace["computes"] = [_declared(c) for c in reads.computes]
    workspace["online_endpoints"] = [{**_declared(e), "deployments": [_declared(d) for d in reads.deployments.get(e["name"], [])]} for e in reads.online_endpoints]
    workspace["batch_endpoints"] = [{**_declared(e), "deployments": [_declared(d) for d in reads.batch_deployments.get(e["name"], [])]} for e in reads.batch_endpoints]
    workspace["datastores"] = [_datastore(d) for d in reads.datastores]
    workspace["private_endpoint_connections"] = [_connection(c) for c in reads.connections]
    at_workspace = [a for a in reads.role_assignments if scope_of(a, "Microsoft.Authorization/roleAssignments").lower() == wid.lower()]
    workspace["role_assignments"] = [_assignment(a, with_scope=False) for a in at_workspace]
    workspace["assets"] = [_asset(wid, a) for a in reads.assets]
    workspace["schedules"] = [_declared(s) for s in reads.schedules]
    elsewhere = [a for a in reads.role_assignments if a not in at_workspace]
    return {
        "snapshot": {
            "workspace": wid,
            "taken_at": taken_at or datetime.now(UTC).isoformat(timespec="seconds"),
            "source": source,
            "target_subscription": reads.target_subscription,
            "target_resource_group": reads.target_resource_group,
            "note": "Written by amlops snapshot: reads only; secrets are placeholders.",
            "unknowns": unknowns(reads),
        },
        "subscriptions": _declared_subscriptions(reads),
        "resource_groups": _groups(reads),
        "resources": [{**_declared(r), "id": r["id"]} for r in [*reads.resources, *name_clashes(reads)]],
        "workspaces": [workspace],
        "role_assignments": [_assignment(a, with_scope=True) for a in elsewhere],
        "locks": [_lock(lk) for lk in relevant_locks(reads)],
        "denied_actions": refusals.denied_actions(reads.permissions),
        "policies": _deny_policies(reads)[0],
    }


def summary(scenario: dict[str, Any]) -> dict[str, int]:
    """Counts a person checks against the portal: what a scenario (a snapshot or one written by hand) holds."""
    ws = scenario["workspaces"][0]
    n = lambda key, where=ws: len(where.get(key) or [])  # noqa: E731
    return {
        "computes": n("computes"),
        "online endpoints": n("online_endpoints"),
        "deployments": sum(len(e.get("deployments") or []) for e in ws.get("online_endpoints") or []),
        "batch endpoints": n("batch_endpoints"),
        "datastores": n("datastores"),
        "private endpoint connections": n("private_endpoint_connections"),
        "role assignments": n("role_assignments") + n("role_assignments", scenario),
        "management locks": n("locks", scenario),
        "job schedules": n("schedules"),
        "assets": n("assets"),
        "associated resources": n("resources", scenario),
        "denied actions": sum(len(d.get("actions") or []) for d in scenario.get("denied_actions") or []),
        "deny policies": n("policies", scenario),
    }


def declare_target(spec: dict[str, Any], source_subscription: str, subscription: str, tenant: str | None = None, unregistered: list[str] | tuple[str, ...] = ()) -> tuple[dict[str, Any], list[str]]:
    """The scenario with the target subscription declared, and notes saying what was assumed about it.

    A snapshot taken with --target-subscription declares it as read; otherwise it is assumed to be in the
    source's tenant and region with the source's provider registrations, ``unregistered`` excepted.
    """
    spec = copy.deepcopy(spec)
    subs = spec.setdefault("subscriptions", [])
    source: dict[str, Any] = next((s for s in subs if s["id"].lower() == source_subscription.lower()), {"id": source_subscription})
    target = next((s for s in subs if s["id"].lower() == subscription.lower()), None)
    notes = []
    if target is None:
        target = {"id": subscription, "tenant": tenant or source.get("tenant"), "region": source.get("region")}
        target = {k: v for k, v in target.items() if v}
        if source.get("providers"):
            target["providers"] = dict(source["providers"])
        subs.append(target)
        notes.append(
            f"the snapshot did not read subscription {subscription}: assumed in tenant {target.get('tenant', 'of the source')}, with the source's provider registrations"
            + (f" except {', '.join(unregistered)}" if unregistered else "")
            + " (snapshot with --target-subscription to rehearse against its real state)"
        )
    elif tenant and tenant != target.get("tenant"):
        notes.append(f"target tenant {target.get('tenant')} (as read) replaced by {tenant} (as asked)")
        target["tenant"] = tenant
    if unregistered:
        providers = target.get("providers")
        if providers is None:  # no list: the emulator registers its defaults; name them so some can be taken away
            providers = {p: "Registered" for p in (source.get("providers") or {})}
        target["providers"] = {**providers, **{p: "NotRegistered" for p in unregistered}}
    return spec, notes

