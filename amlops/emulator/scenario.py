"""Scenarios: subscriptions, resource groups, workspaces and their contents, declared as data.

A scenario is a dict (from JSON or YAML). It goes through the same state models as requests
do, so whatever a scenario builds obeys Azure's rules. Then what Azure sets itself and a snapshot
of a real workspace observed (timestamps, power and provisioning states) is laid over the result,
so a snapshot loads back as it was read. Keys beyond the demo's: role assignments at any scope and
management locks (top level), job schedules (per workspace). Locks load last: they guard writes.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from amlops.emulator import ids
from amlops.emulator.models import (
    authz,
    computes,
    datastores,
    endpoints,
    labeling,
    locks,
    network,
    policy,
    resources,
    roles,
    runhistory,
    schedules,
    workspaces,
)
from amlops.emulator.models.common import WORKSPACE_TYPE
from amlops.emulator.state import State, Subscription

# The demo scenario (make demo, the tests' and benchmarks' default): a workspace with everything a move
# touches, and a target subscription ready for it.
DEMO = Path(__file__).parent / "scenarios" / "demo.yaml"


def read(path: str | Path) -> dict[str, Any]:
    text = Path(path).read_text()
    if str(path).endswith((".yaml", ".yml")):
        import yaml

        return yaml.safe_load(text)
    return json.loads(text)


def load(state: State, spec: dict[str, Any]) -> None:
    frozen = state.clock.frozen  # a new scenario starts from the present, on a clock that runs as before
    state.reset()
    if frozen:
        state.clock.freeze()
    state.strict_subscriptions = bool(spec.get("subscriptions"))
    for sub in spec.get("subscriptions", []):
        providers = sub.get("providers")
        subscription = Subscription(id=sub["id"].lower(), tenant_id=sub.get("tenant", Subscription.tenant_id), region=sub.get("region", Subscription.region))
        if providers is not None:
            subscription.providers = {p: "Registered" for p in providers} if isinstance(providers, list) else dict(providers)
        state.subscriptions[subscription.id] = subscription
    saved_lro = state.settings.lro
    state.settings.lro = {"default": {"mode": "immediate"}}
    try:
        for group in spec.get("resource_groups", []):
            sub = ids.subscription_of(group["id"]) or ""
            resources.put_group(state, sub, ids.name_of(group["id"]), {"location": group.get("location") or state.subscription(sub).region, "tags": group.get("tags")})
        for resource in spec.get("resources", []):
            resources.put_resource(state, resource["id"], resource)
        authz.load(state, spec)
        policy.load(state, spec)
        for workspace in spec.get("workspaces", []):
            _load_workspace(state, workspace)
        for r in spec.get("role_assignments", []):  # grants at any scope: [{"scope", "name", "roleDefinitionId", "principalId", ...}]
            _load_assignment(state, r["scope"], r)
        for lock in spec.get("locks", []):  # [{"scope", "name", "level", "notes"}], after what they lock
            locks.put_lock(state, lock["scope"], lock["name"], {"properties": {"level": lock["level"], "notes": lock.get("notes", ""), "owners": lock.get("owners", [])}})
    finally:
        state.settings.lro = saved_lro
    for key, value in (spec.get("settings") or {}).items():
        setattr(state.settings, key, value)
    # Scheduled job ends: [{"match": "<name glob>", "end": "preempt", "after": <running seconds>, "partial": bool, "times": n}]
    state.job_schedules = [{"after": 0.0, "times": 1, **s} for s in spec.get("job_schedules", [])]


def _load_workspace(state: State, spec: dict[str, Any]) -> None:
    wid = spec["id"]
    body: dict[str, Any] = {k: spec[k] for k in ("location", "tags", "identity", "sku", "kind") if k in spec}
    body["properties"] = spec.get("properties", {})
    workspaces.put_workspace(state, wid, body)
    _observe(state.store.require(wid), spec, ("provisioningState",))
    for c in spec.get("computes", []):
        c = copy.deepcopy(c)  # the model fills in what Azure sets; the overlay below needs what was observed
        computes.create_compute(state, wid, c["name"], copy.deepcopy(c))
        stored = state.store.require(computes.compute_id(wid, c["name"]))
        if c.get("state"):  # e.g. a compute instance that starts out Stopped
            stored["properties"]["properties"]["state"] = c["state"]
        _observe(stored, c, COMPUTE_OBSERVED, INNER_OBSERVED)
        _observe_identity(stored, c)
    for a in spec.get("assets", []):  # before the deployments that name them
        workspaces.put_asset(state, f"{wid}/{a['path']}", a)
    for e in spec.get("online_endpoints", []):
        traffic = (e.get("properties") or {}).get("traffic") or {}
        first = {**e, "properties": {**e.get("properties", {}), "traffic": {}}}
        endpoints.put_endpoint(state, wid, endpoints.ONLINE, e["name"], first)
        for d in e.get("deployments", []):
            endpoints.put_deployment(state, wid, e["name"], d["name"], d)
        if traffic:
            endpoints.put_endpoint(state, wid, endpoints.ONLINE, e["name"], e)
        stored = state.store.require(endpoints.endpoint_id(wid, endpoints.ONLINE, e["name"]))
        _observe(stored, e, ("provisioningState",))
        _observe_identity(stored, e)
    for e in spec.get("batch_endpoints", []):
        endpoints.put_endpoint(state, wid, endpoints.BATCH, e["name"], e)
        for d in e.get("deployments", []):
            endpoints.put_batch_deployment(state, wid, e["name"], d["name"], d)
        stored = state.store.require(endpoints.endpoint_id(wid, endpoints.BATCH, e["name"]))
        _observe(stored, e, ("provisioningState",))
        _observe_identity(stored, e)
    for d in spec.get("datastores", []):
        datastores.put_datastore(state, wid, d["name"], d)
    for s in spec.get("schedules", []):  # Azure ML job schedules: {"name", "properties": {action, trigger, isEnabled}}
        schedules.put_schedule(state, wid, s["name"], s)
    for j in spec.get("labeling_jobs", []):  # {"name", "properties": {"status": "Running"}}
        labeling.put_labeling_job(state, wid, j["name"], j)
    for w in spec.get("web_services", []):  # deployed v1 services: {"name", "computeType": "ACI"|"AKS", "state"}
        labeling.put_service(state, wid, w["name"], w)
    for x in spec.get("experiments", []):  # v1 run history: {"name", "runs": [{"runId", "status", "properties"}]}
        runhistory.create_experiment(state, wid, x["name"])
        for r in x.get("runs", []):
            runhistory.patch_run(state, wid, x["name"], r["runId"], r)
    for c in spec.get("private_endpoint_connections", []):
        network.new_connection(state, wid, c["name"], c["private_endpoint"], c.get("status", "Approved"), c.get("description", ""))
    for r in spec.get("role_assignments", []):
        _load_assignment(state, wid, r)
    loaded = state.store.get(wid)
    assert loaded is not None and loaded["type"] == WORKSPACE_TYPE


# Read-only fields Azure sets on a compute (properties, and the inner properties of its type):
# a snapshot carries what it observed, and the loaded compute shows the same.
COMPUTE_OBSERVED = ("createdOn", "modifiedOn", "provisioningState", "provisioningErrors")
INNER_OBSERVED = ("state", "allocationState", "allocationStateTransitionTime", "currentNodeCount", "targetNodeCount", "nodeStateCounts", "lastOperation", "errors")


def _observe(stored: dict[str, Any], spec: dict[str, Any], fields: tuple[str, ...], inner: tuple[str, ...] = ()) -> None:
    props = spec.get("properties") or {}
    for name in fields:
        if name in props:
            stored["properties"][name] = props[name]
    spec_inner = props.get("properties") or {}
    for name in inner:
        if name in spec_inner:
            stored["properties"]["properties"][name] = spec_inner[name]
    # The read-only fields Azure adds to each start/stop schedule (id, provisioningStatus), as observed.
    observed = ((spec_inner.get("schedules") or {}).get("computeStartStop")) or []
    loaded = ((stored["properties"].get("properties") or {}).get("schedules") or {}).get("computeStartStop") or []
    for seen, have in zip(observed, loaded, strict=False):
        have.update({k: seen[k] for k in SCHEDULE_OBSERVED if k in seen})


SCHEDULE_OBSERVED = ("id", "provisioningStatus")


def _observe_identity(stored: dict[str, Any], spec: dict[str, Any]) -> None:
    """A system-assigned identity's principal as observed (readOnly, made by Azure): a snapshot loads back with it."""
    seen, have = spec.get("identity") or {}, stored.get("identity") or {}
    if "systemassigned" in str(have.get("type", "")).lower():
        have.update({k: seen[k] for k in ("principalId", "tenantId") if seen.get(k)})


def _load_assignment(state: State, scope: str, spec: dict[str, Any]) -> None:
    assignment, _ = roles.put_assignment(state, scope, spec["name"], {"properties": spec})
    if spec.get("createdOn"):
        assignment["properties"]["createdOn"] = spec["createdOn"]
