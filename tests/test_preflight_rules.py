"""The pure rules of issue 10: preflight judgements and rebasing what carries a subscription."""

from __future__ import annotations

from amlops.models import ComputeSpec, Deployment, ManagementLock, OnlineEndpoint, Permission, RoleAssignment, Workspace
from amlops.move import Inventory, MoveRequest, preflight
from amlops.rebase import rebase_assignments, rebase_endpoint, role_definition_in

S, T = "11111111-1111-1111-1111-111111111111", "22222222-2222-2222-2222-222222222222"
SRC = f"/subscriptions/{S}/resourceGroups/ml-prod"
DST = f"/subscriptions/{T}/resourceGroups/ml-moved"
WS = f"{SRC}/providers/Microsoft.MachineLearningServices/workspaces/ws"
SA = f"{SRC}/providers/Microsoft.Storage/storageAccounts/sa"
REQ = MoveRequest(source=WS, target_subscription=T, target_resource_group="ml-moved")
WORKSPACE = Workspace(id=WS, name="ws", location="westeurope", subscription=S, resource_group="ml-prod", storage_account=SA)


def _lock(scope: str, level: str, name: str = "l") -> ManagementLock:
    return ManagementLock(id=f"{scope}/providers/Microsoft.Authorization/locks/{name}", name=name, level=level)


def test_locks_on_the_source_path_refuse_and_unrelated_ones_do_not() -> None:
    unrelated = _lock(f"{SRC}/providers/Microsoft.Network/virtualNetworks/hub", "CanNotDelete", "hub")
    assert preflight.lock_problems(REQ, [WS, SA], [unrelated], []) == []
    for scope in (SRC, f"/subscriptions/{S}", SA, f"{WS}/computes/ci"):
        [problem] = preflight.lock_problems(REQ, [WS, SA], [_lock(scope, "CanNotDelete")], [])
        assert problem.code == "ScopeLocked" and "az lock delete --ids" in problem.fix


def test_only_a_read_only_lock_on_the_target_refuses() -> None:
    assert preflight.lock_problems(REQ, [WS], [], [_lock(DST, "CanNotDelete")]) == []
    assert [p.code for p in preflight.lock_problems(REQ, [WS], [], [_lock(DST, "ReadOnly")])] == ["ScopeLocked"]


def test_permissions_are_actions_minus_not_actions_with_wildcards() -> None:
    contributor = [Permission(actions=["*"], not_actions=["Microsoft.Authorization/*/Write", "Microsoft.Authorization/*/Delete"])]
    assert preflight.allowed(preflight.MOVE_ACTION, contributor)
    assert not preflight.allowed(preflight.ROLE_ASSIGNMENT_WRITE, contributor)
    inventory = Inventory(workspace=WORKSPACE, role_assignments=[RoleAssignment(name="a", scope=WS, role_definition_id="x/y", principal_id="p")])
    [problem] = preflight.permission_problems(DST, "the target resource group", preflight.target_actions(REQ, inventory), contributor)
    assert preflight.ROLE_ASSIGNMENT_WRITE in problem.message


def test_renamed_compute_names_fit_azure_limits() -> None:
    instance = ComputeSpec(name="a-very-long-instance-name-x", compute_type="ComputeInstance")
    cluster = ComputeSpec(name="gpu-cluster-large", compute_type="AmlCompute")
    assert len(preflight.renamed_compute(instance)) <= 24 and preflight.valid_compute_name(instance, preflight.renamed_compute(instance))
    assert len(preflight.renamed_compute(cluster)) <= 16 and preflight.valid_compute_name(cluster, preflight.renamed_compute(cluster))
    rename = REQ.model_copy(update={"etag_conflict_policy": "rename"})
    twins = Inventory(workspace=WORKSPACE, computes=[ComputeSpec(name="alice-notebook-boxes-a", compute_type="ComputeInstance"), ComputeSpec(name="alice-notebook-boxes-b", compute_type="ComputeInstance")])
    assert [p.code for p in preflight.recreate_name_problems(rename, twins, {})] == ["ComputeNameTaken"]


def test_shared_associated_resources_are_refused_unless_named() -> None:
    other = WORKSPACE.model_copy(update={"id": WS.replace("/ws", "/other"), "name": "other"})
    shared = preflight.shared_resources(WORKSPACE, [WORKSPACE, other])
    assert shared == {SA: ["other"]}
    assert [p.code for p in preflight.shared_problems(REQ, [WS, SA], shared)] == ["SharedResource"]
    assert preflight.shared_problems(REQ.model_copy(update={"move_shared": [SA.upper()]}), [WS, SA], shared) == []


def test_name_clash_in_the_target_group() -> None:
    clash = f"{DST}/providers/Microsoft.Storage/storageAccounts/SA"
    assert [p.code for p in preflight.name_clash_problems(REQ, [WS, SA], [clash])] == ["NameClash"]


def test_grants_at_moved_scopes_are_rebased_with_the_target_role_and_their_condition() -> None:
    role = f"/subscriptions/{S}/providers/Microsoft.Authorization/roleDefinitions/ba92f5b4-2d11-453d-a403-e96b0029c9fe"
    grants = [
        RoleAssignment(name="a", scope=SA, role_definition_id=role, principal_id="p", condition="c", condition_version="2.0"),
        RoleAssignment(name="b", scope=f"/subscriptions/{S}/resourceGroups/other/providers/Microsoft.KeyVault/vaults/kv", role_definition_id=role, principal_id="p"),
    ]
    [moved] = rebase_assignments(grants, [WS, SA], SRC, DST, T)
    assert moved.scope == f"{DST}/providers/Microsoft.Storage/storageAccounts/sa"
    assert moved.role_definition_id == role.replace(S, T) and (moved.condition, moved.condition_version) == ("c", "2.0")
    assert role_definition_in("/providers/Microsoft.Authorization/roleDefinitions/g", T) == "/providers/Microsoft.Authorization/roleDefinitions/g"


def test_every_arm_id_of_a_deployment_is_rebased_and_others_are_kept() -> None:
    props = {
        "model": f"{WS}/models/m/versions/3",
        "environmentId": f"{WS}/environments/e/versions/1",
        "codeConfiguration": {"codeId": f"{WS}/codes/c/versions/1", "scoringScript": "score.py"},
        "compute": f"{WS}/computes/aks",
        "other": f"{SRC}/providers/Microsoft.Storage/storageAccounts/not-moved",
        "registry": "azureml://registries/shared/models/m/versions/1",
    }
    endpoint = OnlineEndpoint(name="e", auth_mode="Key", deployments=[Deployment(name="blue", properties=props)])
    rebased = rebase_endpoint(endpoint, [WS], SRC, DST).deployments[0].properties
    target_ws = WS.replace(SRC, DST)
    assert rebased["model"] == f"{target_ws}/models/m/versions/3" and rebased["codeConfiguration"]["codeId"].startswith(target_ws)
    assert rebased["environmentId"].startswith(target_ws) and rebased["compute"] == f"{target_ws}/computes/aks"
    assert rebased["other"] == props["other"] and rebased["registry"] == props["registry"]


def test_compute_instance_names_follow_azure_ml_s_own_rule() -> None:
    ci = ComputeSpec(name="x", compute_type="ComputeInstance")
    assert preflight.valid_compute_name(ci, "alice-ci-moved")
    for bad in ("ab", "1abc", "abc-", "abc-12", "a" * 25, "abc_def"):
        assert not preflight.valid_compute_name(ci, bad), bad


def test_grants_to_a_replaced_identity_go_to_its_successor_and_are_not_recreated_for_the_old_one() -> None:
    from amlops.rebase import regrants

    role = f"/subscriptions/{S}/providers/Microsoft.Authorization/roleDefinitions/r"
    elsewhere = f"/subscriptions/{S}/resourceGroups/shared/providers/Microsoft.KeyVault/vaults/kv"
    grants = [RoleAssignment(name="a", scope=SA, role_definition_id=role, principal_id="old"), RoleAssignment(name="b", scope=elsewhere, role_definition_id=role, principal_id="OLD")]
    assert rebase_assignments(grants, [WS, SA], SRC, DST, T, {"old"}) == []
    moved, kept = regrants(grants, {"old": "new"}, [WS, SA], SRC, DST)
    assert (moved.scope, moved.principal_id, moved.role_definition_id) == (SA.replace(SRC, DST), "new", role.replace(S, T))
    assert (kept.scope, kept.principal_id, kept.role_definition_id) == (elsewhere, "new", role), "a scope that did not move keeps its subscription"


def test_names_a_re_create_uses_must_be_valid_and_free_in_the_region() -> None:
    inventory = Inventory(workspace=WORKSPACE, computes=[ComputeSpec(name="alice-ci", compute_type="ComputeInstance"), ComputeSpec(name="gpu", compute_type="AmlCompute")])
    assert preflight.recreate_name_problems(REQ, inventory, {"bob-ci": "team-ws", "gpu": "team-ws"}) == [], "clusters are unique per workspace only"
    [taken] = preflight.recreate_name_problems(REQ, inventory, {"alice-ci": "team-ws"})
    assert taken.code == "ComputeNameTaken" and "team-ws" in taken.message and "unique per region" in taken.message
    rename = REQ.model_copy(update={"etag_conflict_policy": "rename"})
    [renamed_taken] = preflight.recreate_name_problems(rename, inventory, {"alice-ci-mvd": "team-ws"})
    assert "re-created as 'alice-ci-mvd'" in renamed_taken.message and "--etag-conflict-policy report" in renamed_taken.fix
    assert preflight.recreate_name_problems(REQ.model_copy(update={"recreate_compute": False}), inventory, {"alice-ci": "team-ws"}) == [], "nothing re-created, nothing to clash"
    legacy = Inventory(workspace=WORKSPACE, computes=[ComputeSpec(name="ci-01", compute_type="ComputeInstance")])
    assert preflight.recreate_name_problems(REQ, legacy, {}) == [], "a name Azure accepted when it was made is its own"
