"""The move's plan and each item's verification, pure: what the plan says it will do to each thing, the digest a
person approves, what a second plan changed, and each item kind's check, including the gaps a held-out scenario found
(a left-alone datastore rewritten, mirror traffic, job schedules' enabled state) and the fields Azure normalises."""

from __future__ import annotations

from typing import Any

from amlops.models import (
    BatchEndpoint,
    ComputeSpec,
    Datastore,
    Deployment,
    OnlineEndpoint,
    Permission,
    PrivateEndpointConnection,
    RoleAssignment,
    Workspace,
)
from amlops.move import Inventory, MoveFacts, MoveManifest, MoveRequest, build_plan, changes, refusals, verify
from amlops.move.verify import Check, endpoint_as_planned

S, T = "11111111-1111-1111-1111-111111111111", "22222222-2222-2222-2222-222222222222"
GROUP = f"/subscriptions/{S}/resourceGroups/ml-prod"
WS = f"{GROUP}/providers/Microsoft.MachineLearningServices/workspaces/ml-prod-ws"
MOVED = f"/subscriptions/{T}/resourceGroups/ml-moved/providers/Microsoft.MachineLearningServices/workspaces/ml-prod-ws"
STORAGE = f"{GROUP}/providers/Microsoft.Storage/storageAccounts/mlprodstorage"
ROLE = f"/subscriptions/{S}/providers/Microsoft.Authorization/roleDefinitions/ba92f5b4-2d11-453d-a403-e96b0029c9fe"
REQUEST = MoveRequest(source=WS, target_subscription=T, target_resource_group="ml-moved")


def _workspace(rid: str = WS) -> Workspace:
    return Workspace(id=rid, name="ml-prod-ws", location="westeurope", subscription=rid.split("/")[2], resource_group=rid.split("/")[4], storage_account=STORAGE)


def _store(name: str, account: str, sub: str | None = S, group: str | None = "ml-prod", **extra: Any) -> Datastore:
    return Datastore(name=name, datastore_type="AzureBlob", account_name=account, subscription_id=sub, resource_group=group, credentials_type="AccountKey", **extra)


def _endpoint(mirror: dict[str, int] | None = None, auth: str = "Key", kind: str | None = "Managed") -> OnlineEndpoint:
    props: dict[str, Any] = {"authMode": auth, "traffic": {"blue": 100}} | ({"mirrorTraffic": mirror} if mirror else {})
    deployments = [Deployment(name=n, properties={"model": f"{WS}/models/forecast/versions/3"}) for n in ("blue", "green")]
    return OnlineEndpoint(name="forecast-api", auth_mode=auth, traffic={"blue": 100}, kind=kind, create_properties=props, deployments=deployments)


def _inventory(rid: str = WS, **parts: Any) -> Inventory:
    return Inventory(workspace=_workspace(rid), taken_at="2026-12-05T00:00:00+00:00", **parts)


BEFORE = _inventory(
    computes=[
        ComputeSpec(name="bob-ci", compute_type="ComputeInstance", state="Stopped", vm_size="Standard_DS3_v2"),
        ComputeSpec(name="gpu-cluster", compute_type="AmlCompute", vm_size="Standard_NC6s_v3", principal_id="c1c1c1c1-0000-0000-0000-000000000001"),
        ComputeSpec(name="aks", compute_type="Kubernetes", attached_resource_id="/subscriptions/x/resourceGroups/k/providers/Microsoft.ContainerService/managedClusters/k"),
    ],
    online_endpoints=[_endpoint(mirror={"green": 10})],
    batch_endpoints=[BatchEndpoint(name="nightly", auth_mode="AADToken", deployments=[Deployment(name="d1", properties={"compute": f"{WS}/computes/gpu-cluster"})])],
    datastores=[
        _store("workspaceblobstore", "mlprodstorage", is_default=True),
        _store("curated", "mlprodstorage"),
        _store("shared-reference", "otherstorage", sub="33333333-3333-3333-3333-333333333333", group="shared"),
    ],
    role_assignments=[
        RoleAssignment(name="a1", scope=WS, role_definition_id=ROLE, principal_id="aaaaaaaa-0000-0000-0000-000000000001"),
        RoleAssignment(name="a2", scope=WS, role_definition_id=ROLE, principal_id="dddddddd-0000-0000-0000-00000000dead"),
        RoleAssignment(name="a3", scope=STORAGE, role_definition_id=ROLE, principal_id="c1c1c1c1-0000-0000-0000-000000000001", principal_type="ServicePrincipal"),
    ],
    gone_principals=["dddddddd-0000-0000-0000-00000000dead"],
    private_endpoint_connections=[
        PrivateEndpointConnection(name="a", id=f"{WS}/privateEndpointConnections/a", private_endpoint_id="/subscriptions/x/resourceGroups/n/providers/Microsoft.Network/privateEndpoints/pe-a", status="Approved"),
        PrivateEndpointConnection(name="r", id=f"{WS}/privateEndpointConnections/r", private_endpoint_id="/subscriptions/x/resourceGroups/n/providers/Microsoft.Network/privateEndpoints/pe-r", status="Rejected"),
    ],
    job_schedules=["nightly-retrain"],
    disabled_job_schedules=["paused-experiment"],
)
PLAN = build_plan(REQUEST, BEFORE)


# -- the plan: what it does to each thing


def test_each_compute_says_how_it_comes_back_and_in_which_power_state() -> None:
    assert [(c.name, c.action, c.power_state) for c in PLAN.computes] == [("bob-ci", "re-create", "Stopped"), ("gpu-cluster", "re-create", None), ("aks", "re-attach", None)]
    kept = build_plan(REQUEST.model_copy(update={"recreate_compute": False}), BEFORE)
    assert [c.action for c in kept.computes] == ["leave deleted", "leave deleted", "leave detached"]


def test_the_plan_says_which_compute_is_detached_and_which_deleted() -> None:
    """Attached compute is detached, so the cluster behind it survives; what Azure made is deleted: whether or not it
    is re-created. The gateway sends what the item says (underlyingResourceAction)."""
    assert [(c.name, c.removal) for c in PLAN.computes] == [("bob-ci", "Delete"), ("gpu-cluster", "Delete"), ("aks", "Detach")]
    kept = build_plan(REQUEST.model_copy(update={"recreate_compute": False}), BEFORE)
    assert [c.removal for c in kept.computes] == ["Delete", "Delete", "Detach"]


def test_endpoints_are_rebased_with_their_traffic_and_mirror_traffic() -> None:
    [item] = PLAN.online_endpoints
    assert item.action == "redeploy" and item.endpoint.traffic == {"blue": 100} and item.endpoint.mirror_traffic == {"green": 10}
    assert all(d.properties["model"].startswith(MOVED) for d in item.endpoint.deployments)


def test_datastores_are_repointed_kept_exactly_or_left_to_azure() -> None:
    assert {d.name: d.action for d in PLAN.datastores} == {"workspaceblobstore": "azure's own", "curated": "re-point", "shared-reference": "keep as it is"}


def test_grants_are_recreated_at_the_new_scope_given_to_new_identities_or_skipped_with_the_reason() -> None:
    actions = {g.grant.principal_id[:8]: (g.action, g.grant.scope) for g in PLAN.grants}
    assert actions["aaaaaaaa"] == ("re-create", MOVED)
    assert actions["dddddddd"][0] == "skip" and "no longer exists" in PLAN.grants[1].reason
    assert actions["c1c1c1c1"][0] == "give to the re-created identity" and PLAN.replaced_identities == {"compute gpu-cluster": "c1c1c1c1-0000-0000-0000-000000000001"}
    [recreated] = PLAN.grants_to("re-create")
    assert recreated.grant.role_definition_id.startswith(f"/subscriptions/{T}/")


def test_connections_schedules_and_batch_deployments_are_items_too() -> None:
    assert [(c.private_endpoint_id.rsplit("/", 1)[-1], c.action) for c in PLAN.connections] == [("pe-a", "approve by rule"), ("pe-r", "keep rejected")]
    assert PLAN.approvable_endpoints() == {PLAN.connections[0].private_endpoint_id.lower()}
    assert [(s.name, s.enabled, s.action) for s in PLAN.schedules] == [("nightly-retrain", True, "disable for the move, enable after"), ("paused-experiment", False, "leave disabled")]
    assert PLAN.enabled_schedules == ["nightly-retrain"], "what the move pauses and enables again: never one that was off"
    [batch] = PLAN.batch_deployments
    assert batch.name == "nightly/d1" and batch.deployment.properties["compute"] == f"{MOVED}/computes/gpu-cluster"


def test_the_digest_is_the_plan_and_a_second_plan_says_what_changed() -> None:
    assert build_plan(REQUEST, BEFORE.model_copy(update={"taken_at": "later"})).digest == PLAN.digest, "when it was read is not the plan"
    grown = BEFORE.model_copy(update={
        "computes": [*BEFORE.computes, ComputeSpec(name="late-ci", compute_type="ComputeInstance", state="Running")],
        "role_assignments": BEFORE.role_assignments[1:],
    })  # fmt: skip
    second = build_plan(REQUEST, grown)
    assert second.digest != PLAN.digest
    said = changes(PLAN, second)
    assert "new: compute late-ci (re-create)" in said and any(s.startswith("gone: grant aaaaaaaa-") for s in said), said
    switched = BEFORE.model_copy(update={"computes": [BEFORE.computes[0].model_copy(update={"state": "Running"}), *BEFORE.computes[1:]]})
    [power] = changes(PLAN, build_plan(REQUEST, switched))
    assert power.startswith("changed: compute bob-ci") and '"Running"' in power, "the power state to restore is part of what a person approved"


# -- verification: each item's own check against the moved workspace


def _manifest(**changes_: Any) -> MoveManifest:
    return MoveManifest(move_id=REQUEST.move_id, request=REQUEST, inventory=BEFORE, plan=PLAN, approved_digest=PLAN.digest, **changes_)


def _moved(**parts: Any) -> Inventory:
    """The workspace as a correct move leaves it; ``parts`` replace what differs."""
    item = PLAN.online_endpoints[0].endpoint
    base: dict[str, Any] = {
        "computes": [
            ComputeSpec(name="bob-ci", compute_type="ComputeInstance", state="Stopped", provisioning_state="Succeeded", vm_size="STANDARD_DS3_V2"),
            ComputeSpec(name="gpu-cluster", compute_type="AmlCompute", provisioning_state="Succeeded", vm_size="STANDARD_NC6S_V3"),
            ComputeSpec(name="aks", compute_type="Kubernetes", provisioning_state="Succeeded", attached_resource_id=BEFORE.computes[2].attached_resource_id),
        ],
        "online_endpoints": [item],
        "batch_endpoints": [BatchEndpoint(name="nightly", auth_mode="AADToken", deployments=[PLAN.batch_deployments[0].deployment])],
        "datastores": [
            _store("workspaceblobstore", "mlprodstorage", sub=T, group="ml-moved", is_default=True),
            _store("curated", "mlprodstorage", sub=T, group="ml-moved"),
            BEFORE.datastores[2],
        ],
        "role_assignments": [PLAN.grants[0].grant, RoleAssignment(name="n", scope=MOVED, role_definition_id=ROLE, principal_id="new-principal")],
        "private_endpoint_connections": [c.model_copy(update={"name": c.name + "-1"}) for c in BEFORE.private_endpoint_connections],
        "job_schedules": ["nightly-retrain"],
        "disabled_job_schedules": ["paused-experiment"],
    }
    return _inventory(MOVED, **(base | parts))


def _failed(checks: list[Check]) -> list[tuple[str, str]]:
    return [(c.kind, c.name) for c in checks if not c.ok]


def test_a_correct_move_verifies_with_azures_spellings() -> None:
    """Azure answers vmSize upper-cased, auth modes in its own spelling and kind Managed unasked: the same thing."""
    observed = _moved(online_endpoints=[PLAN.online_endpoints[0].endpoint.model_copy(update={"auth_mode": "key", "kind": None})])
    batch = observed.batch_endpoints[0].model_copy(update={"auth_mode": "aad_token"})
    assert _failed(verify(_manifest(replaced_principals={"c1c1c1c1-0000-0000-0000-000000000001": "new-principal"}), observed.model_copy(update={"batch_endpoints": [batch]}))) == []


def test_a_datastore_left_alone_must_be_byte_identical() -> None:
    rewritten = BEFORE.datastores[2].model_copy(update={"subscription_id": T, "resource_group": "ml-moved"})
    checks = verify(_manifest(replaced_principals={"c1c1c1c1-0000-0000-0000-000000000001": "new-principal"}), _moved(datastores=[*_moved().datastores[:2], rewritten]))
    [bad] = [c for c in checks if not c.ok]
    assert (bad.kind, bad.name) == ("datastore", "shared-reference") and "resource_group" in bad.actual and "subscription_id" in bad.actual
    tagged = BEFORE.datastores[2].model_copy(update={"tags": {"owner": "someone"}})
    assert _failed(verify(_manifest(replaced_principals={"c1c1c1c1-0000-0000-0000-000000000001": "new-principal"}), _moved(datastores=[*_moved().datastores[:2], tagged]))) == [("datastore", "shared-reference")]


def test_an_endpoint_is_as_planned_only_with_the_same_deployments_traffic_mirror_auth_and_kind() -> None:
    """The one comparison: the verification's check, and how a rebuild knows an endpoint needs no redeploy."""
    want = PLAN.online_endpoints[0].endpoint
    assert endpoint_as_planned(want, want.model_copy(update={"auth_mode": "key", "kind": None})), "Azure's spellings are the same thing"
    assert not endpoint_as_planned(want, None)
    props = want.create_properties
    differs = {
        "name": want.model_copy(update={"name": "other-api"}),
        "deployments": want.model_copy(update={"deployments": want.deployments[:1]}),
        "traffic": want.model_copy(update={"traffic": {"green": 100}}),
        "mirror traffic": want.model_copy(update={"create_properties": {k: v for k, v in props.items() if k != "mirrorTraffic"}}),
        "auth mode": want.model_copy(update={"auth_mode": "AADToken"}),
        "kind": want.model_copy(update={"kind": "Kubernetes"}),
    }
    assert [what for what, have in differs.items() if endpoint_as_planned(want, have)] == []


def test_mirror_traffic_is_compared() -> None:
    endpoint = PLAN.online_endpoints[0].endpoint
    lost = endpoint.model_copy(update={"create_properties": {k: v for k, v in endpoint.create_properties.items() if k != "mirrorTraffic"}})
    checks = verify(_manifest(replaced_principals={"c1c1c1c1-0000-0000-0000-000000000001": "new-principal"}), _moved(online_endpoints=[lost]))
    assert _failed(checks) == [("online endpoint", "forecast-api")]
    assert "mirror traffic {'green': 10}" in next(c for c in checks if not c.ok).expected


def test_each_schedule_must_end_in_its_own_enabled_state() -> None:
    m = _manifest(replaced_principals={"c1c1c1c1-0000-0000-0000-000000000001": "new-principal"})
    left_off = verify(m, _moved(job_schedules=[], disabled_job_schedules=["nightly-retrain", "paused-experiment"]))
    assert _failed(left_off) == [("job schedule", "nightly-retrain")]
    woken = verify(m, _moved(job_schedules=["nightly-retrain", "paused-experiment"], disabled_job_schedules=[]))
    assert _failed(woken) == [("job schedule", "paused-experiment")]


def test_a_grant_of_a_replaced_identity_is_checked_under_its_new_principal() -> None:
    assert _failed(verify(_manifest(), _moved())) == [("role assignment", "ServicePrincipal c1c1c1c1-0000-0000-0000-000000000001")], "not given to the new identity yet"


def test_a_batch_deployment_still_naming_the_source_is_a_mismatch() -> None:
    stale = BatchEndpoint(name="nightly", auth_mode="AADToken", deployments=BEFORE.batch_endpoints[0].deployments)
    assert _failed(verify(_manifest(replaced_principals={"c1c1c1c1-0000-0000-0000-000000000001": "new-principal"}), _moved(batch_endpoints=[stale]))) == [("batch deployment", "nightly/d1")]


# -- the refusals come from the same facts


def test_a_target_group_in_another_region_is_refused_from_the_facts() -> None:
    facts = MoveFacts(inventory=BEFORE, source_tenant="t", target_tenant="t", target_group_location="North Europe", source_permissions=[Permission(actions=["*"])])
    assert [p.code for p in refusals(REQUEST, facts)] == ["OtherRegion"]
    assert refusals(REQUEST, facts.model_copy(update={"target_group_location": "westeurope"})) == []
    busy = facts.model_copy(update={"target_group_location": None, "web_services": ["old-svc"], "endpoint_requests": {"forecast-api": 3}, "window_minutes": 60})
    assert [p.code for p in refusals(REQUEST, busy)] == ["DeployedWebServices", "EndpointTraffic"]
