"""The emulator refuses what ARM refuses, worded as ARM words it: management locks, the caller's permissions,
deny policies, role definitions of another subscription, deleted principals. Driven through the real SDK
pipeline (the gateway), checked against Azure's documentation and official examples, not against our client."""

from __future__ import annotations

import pytest

from amlops.azure import computes, locks, operations, permissions, policy, rest, roles
from amlops.emulator.models.authz import action_for
from amlops.errors import AuthenticationFailed, InvalidInput, Locked, NotFound
from amlops.models import ResourceId, RoleAssignment
from tests.conftest import SUB, TARGET_SUB, WS_ID, Env

RG = f"/subscriptions/{SUB}/resourceGroups/ml-prod"
STORAGE = f"{RG}/providers/Microsoft.Storage/storageAccounts/mlprodstorage"
DATA_SCIENTIST = "f6c7c914-8db3-469d-8ca1-694a8f32e121"


def test_a_delete_lock_on_the_group_refuses_deleting_compute_but_not_changing_it(demo: Env, ws: ResourceId) -> None:
    lock = locks.create_lock(demo.clients, RG, "keep", "CanNotDelete", "production")
    [alice] = [c for c in computes.list_computes(demo.clients, ws) if c.name == "alice-ci"]
    with pytest.raises(Locked) as refused:
        computes.delete_compute(demo.clients, ws, alice.name, "Delete")
    assert refused.value.code == "ScopeLocked" and f"are locked: '{RG}'" in refused.value.message and "cannot perform delete operation" in refused.value.message
    assert lock.id.startswith(RG)
    computes.update_idle_shutdown(demo.clients, ws, "alice-ci", "PT45M")  # CanNotDelete: "read and modify"
    assert [x.level for x in locks.list_locks(demo.clients, WS_ID)] == ["CanNotDelete"], "inherited from the group"
    locks.delete_lock(demo.clients, RG, "keep")
    computes.delete_compute(demo.clients, ws, alice.name, "Delete")


def test_a_read_only_lock_refuses_updates_and_post_actions(demo: Env, ws: ResourceId) -> None:
    locks.create_lock(demo.clients, WS_ID, "ro", "ReadOnly")
    with pytest.raises(Locked):  # lock-resources: POST actions (starting a VM, listing keys) are refused too
        rest.send(demo.clients, SUB, "POST", f"{WS_ID}/computes/alice-ci/stop", rest.ML_API)
    with pytest.raises(Locked):  # "A read-only lock also prevents the assignment of Azure RBAC roles scoped to" the resource
        roles.create(demo.clients, WS_ID, RoleAssignment(name="x", scope=WS_ID, role_definition_id=f"/subscriptions/{SUB}/providers/Microsoft.Authorization/roleDefinitions/{DATA_SCIENTIST}", principal_id="aaaaaaaa-0000-0000-0000-000000000009"))
    assert [c.name for c in computes.list_computes(demo.clients, ws)], "reads still work"
    operations.put(demo.clients, STORAGE, "2023-05-01", {"location": "westeurope", "tags": {"a": "b"}})  # outside the locked scope


def test_validate_move_fails_on_locks(demo: Env) -> None:
    demo.control.load({**_demo_with_target(), "locks": [{"scope": STORAGE, "name": "keep-data", "level": "CanNotDelete"}]})
    target = f"/subscriptions/{TARGET_SUB}/resourceGroups/ml-moved"
    from amlops.azure import moves
    from amlops.errors import MoveValidationFailed

    with pytest.raises(MoveValidationFailed) as refused:
        moves.validate_move(demo.clients, ResourceId.parse(RG), [STORAGE], target)
    assert any(d["code"] == "ScopeLocked" and "keep-data" in d["message"] for d in refused.value.details)


def _demo_with_target() -> dict:
    from tests.conftest import demo_scenario

    spec = demo_scenario()
    spec["resource_groups"].append({"id": f"/subscriptions/{TARGET_SUB}/resourceGroups/ml-moved", "location": "westeurope"})
    return spec


def test_a_denied_action_is_refused_and_shown_by_the_permissions_api(demo: Env, ws: ResourceId) -> None:
    demo.control.rules(denied_actions=[{"scope": RG, "actions": ["Microsoft.MachineLearningServices/workspaces/computes/delete"]}])
    [alice] = [c for c in computes.list_computes(demo.clients, ws) if c.name == "alice-ci"]
    with pytest.raises(AuthenticationFailed) as refused:
        computes.delete_compute(demo.clients, ws, alice.name, "Delete")
    assert refused.value.code == "AuthorizationFailed" and "'Microsoft.MachineLearningServices/workspaces/computes/delete'" in refused.value.message
    [granted] = permissions.list_permissions(demo.clients, RG)
    assert granted.actions == ["*"] and granted.not_actions == ["Microsoft.MachineLearningServices/workspaces/computes/delete"]


@pytest.mark.parametrize(
    ("method", "path", "operation"),
    [  # operation names as "Azure resource provider operations" and the move documentation list them
        ("POST", f"{RG}/moveResources", "Microsoft.Resources/subscriptions/resourceGroups/moveResources/action"),
        ("PUT", RG, "Microsoft.Resources/subscriptions/resourceGroups/write"),
        ("DELETE", f"{WS_ID}/computes/alice-ci", "Microsoft.MachineLearningServices/workspaces/computes/delete"),
        ("POST", f"{WS_ID}/computes/alice-ci/stop", "Microsoft.MachineLearningServices/workspaces/computes/stop/action"),
        ("PUT", f"{WS_ID}/providers/Microsoft.Authorization/roleAssignments/x", "Microsoft.Authorization/roleAssignments/write"),
        ("POST", f"{STORAGE}/listKeys", "Microsoft.Storage/storageAccounts/listKeys/action"),
    ],
)
def test_requests_map_to_azure_operation_names(method: str, path: str, operation: str) -> None:
    assert action_for(method, path) == operation


def test_policy_denies_the_write_and_check_policy_restrictions_says_so_first(demo: Env, ws: ResourceId) -> None:
    demo.control.rules(policies=[{"name": "no-ml-compute", "scope": RG, "resource_types": ["Microsoft.MachineLearningServices/workspaces/computes"]}])
    [denial] = policy.denials(demo.clients, RG, "Microsoft.MachineLearningServices/workspaces/computes", "westeurope")
    assert denial.policy_assignment_id.endswith("/policyAssignments/no-ml-compute")
    assert policy.denials(demo.clients, RG, "Microsoft.Storage/storageAccounts", "westeurope") == []
    [gpu] = [c for c in computes.list_computes(demo.clients, ws) if c.name == "gpu-cluster"]
    with pytest.raises(AuthenticationFailed) as refused:
        computes.create_compute(demo.clients, ws, gpu.model_copy(update={"name": "gpu2"}), "westeurope")
    assert refused.value.code == "RequestDisallowedByPolicy" and "was disallowed by policy" in refused.value.message


def test_policy_assignments_and_their_definitions_read_as_the_rest_examples_show_them(demo: Env) -> None:
    demo.control.rules(policies=[
        {"name": "eu-only", "scope": f"/subscriptions/{SUB}", "locations": ["westeurope"]},
        {"name": "no-ml-compute", "scope": RG, "resource_types": ["Microsoft.MachineLearningServices/workspaces/computes"]},
        {"name": "elsewhere", "scope": f"/subscriptions/{SUB}/resourceGroups/other", "resource_types": ["Microsoft.Storage/storageAccounts"]},
    ])  # fmt: skip
    listed = list(rest.pages(demo.clients, SUB, f"{RG}/providers/Microsoft.Authorization/policyAssignments", "2023-04-01", {"$filter": "atScope()"}))
    assert [a["name"] for a in listed] == ["eu-only", "no-ml-compute"], "at the group and above it, not beside it"
    assignment = listed[0]
    assert assignment["type"] == "Microsoft.Authorization/policyAssignments" and assignment["properties"]["scope"] == f"/subscriptions/{SUB}"
    definition = rest.send(demo.clients, SUB, "GET", assignment["properties"]["policyDefinitionId"], "2023-04-01")
    assert definition["properties"]["policyRule"] == {"if": {"allOf": [{"field": "location", "notIn": ["westeurope"]}]}, "then": {"effect": "deny"}}
    assert policy.denials(demo.clients, RG, "Microsoft.Storage/storageAccounts", "northeurope")[0].policy_assignment_id == assignment["id"]  # as the rule reads
    with pytest.raises(NotFound) as missing:  # under a group that does not exist, ARM answers ResourceGroupNotFound
        list(rest.pages(demo.clients, SUB, f"/subscriptions/{SUB}/resourceGroups/nope/providers/Microsoft.Authorization/policyAssignments", "2023-04-01"))
    assert missing.value.code == "ResourceGroupNotFound"
    with pytest.raises(NotFound):
        rest.send(demo.clients, SUB, "GET", f"/subscriptions/{SUB}/providers/Microsoft.Authorization/policyDefinitions/never-assigned", "2023-04-01")


def test_policies_of_one_initiative_are_one_assignment_of_a_policy_set(demo: Env, ws: ResourceId) -> None:
    demo.control.rules(policies=[
        {"name": "no-compute", "initiative": "guardrails", "scope": RG, "resource_types": ["Microsoft.MachineLearningServices/workspaces/computes"]},
        {"name": "no-aks", "initiative": "guardrails", "scope": RG, "resource_types": ["Microsoft.ContainerService/managedClusters"]},
    ])  # fmt: skip
    [assignment] = rest.pages(demo.clients, SUB, f"{RG}/providers/Microsoft.Authorization/policyAssignments", "2023-04-01", {"$filter": "atScope()"})
    assert assignment["name"] == "guardrails" and "/policySetDefinitions/guardrails" in assignment["properties"]["policyDefinitionId"]
    initiative = rest.send(demo.clients, SUB, "GET", assignment["properties"]["policyDefinitionId"], "2023-04-01")
    assert [m["policyDefinitionReferenceId"] for m in initiative["properties"]["policyDefinitions"]] == ["no-compute", "no-aks"]
    member = rest.send(demo.clients, SUB, "GET", initiative["properties"]["policyDefinitions"][1]["policyDefinitionId"], "2023-04-01")
    assert member["properties"]["policyRule"]["if"] == {"allOf": [{"field": "type", "in": ["Microsoft.ContainerService/managedClusters"]}]}
    [gpu] = [c for c in computes.list_computes(demo.clients, ws) if c.name == "gpu-cluster"]
    with pytest.raises(AuthenticationFailed) as refused:
        computes.create_compute(demo.clients, ws, gpu.model_copy(update={"name": "gpu2"}), "westeurope")
    assert '"policySetDefinition":{"name":"guardrails"' in refused.value.message and "policyAssignments/guardrails" in refused.value.message


def test_check_policy_restrictions_accepts_the_official_example_request(demo: Env) -> None:
    # The request body of PolicyRestrictions_CheckAtResourceGroupScope.json (policyinsights 2022-03-01).
    body = {
        "resourceDetails": {"resourceContent": {"type": "Microsoft.Compute/virtualMachines", "properties": {"priority": "Spot"}}, "apiVersion": "2019-12-01"},
        "pendingFields": [{"field": "name", "values": ["myVMName"]}, {"field": "location", "values": ["eastus", "westus", "westus2", "westeurope"]}, {"field": "tags"}],
    }
    demo.control.rules(policies=[{"name": "no-spot", "scope": RG, "resource_types": ["Microsoft.Compute/virtualMachines"]}])
    answer = rest.send(demo.clients, SUB, "POST", f"{RG}/providers/Microsoft.PolicyInsights/checkPolicyRestrictions", "2022-03-01", body)
    assert set(answer) == {"fieldRestrictions", "contentEvaluationResult"}
    [evaluation] = answer["contentEvaluationResult"]["policyEvaluations"]
    assert evaluation["evaluationResult"] == "NonCompliant" and set(evaluation["policyInfo"]) >= {"policyDefinitionId", "policyAssignmentId"}


def test_an_assignment_naming_another_subscriptions_role_definition_is_refused(demo: Env) -> None:
    target_group = f"/subscriptions/{TARGET_SUB}/resourceGroups/ml-moved"
    demo.control.load(_demo_with_target())
    grant = RoleAssignment(name="x", scope=target_group, role_definition_id=f"/subscriptions/{SUB}/providers/Microsoft.Authorization/roleDefinitions/{DATA_SCIENTIST}", principal_id="aaaaaaaa-0000-0000-0000-000000000001")
    with pytest.raises(InvalidInput) as refused:
        roles.create(demo.clients, target_group, grant)
    assert refused.value.code == "RoleDefinitionDoesNotExist"
    fixed = grant.model_copy(update={"role_definition_id": grant.role_definition_id.replace(SUB, TARGET_SUB)})
    assert roles.create(demo.clients, target_group, fixed).role_definition_id == fixed.role_definition_id


def test_custom_roles_exist_only_where_assignable_and_deleted_principals_are_not_found(demo: Env) -> None:
    guid = "9f1e2d3c-0000-4000-8000-00000000c0de"
    demo.control.rules(role_definitions=[{"name": guid, "roleName": "Forecast Operator", "assignableScopes": [f"/subscriptions/{SUB}"]}], deleted_principals=["dddddddd-0000-0000-0000-00000000dead"])
    assert roles.definition_exists(demo.clients, SUB, guid) and not roles.definition_exists(demo.clients, TARGET_SUB, guid)
    assert roles.definition_exists(demo.clients, TARGET_SUB, DATA_SCIENTIST), "built-in roles exist in every subscription"
    gone = RoleAssignment(name="x", scope=RG, role_definition_id=f"/subscriptions/{SUB}/providers/Microsoft.Authorization/roleDefinitions/{DATA_SCIENTIST}", principal_id="dddddddd-0000-0000-0000-00000000dead")
    with pytest.raises(InvalidInput) as refused:
        roles.create(demo.clients, RG, gone)
    assert refused.value.code == "PrincipalNotFound" and "does not exist in the directory" in refused.value.message


def test_validate_move_refuses_deployed_services_and_running_labeling(demo: Env) -> None:
    from amlops.azure import labeling, moves, services
    from amlops.errors import MoveValidationFailed

    spec = _demo_with_target()
    spec["workspaces"][0].update(computes=[], online_endpoints=[], labeling_jobs=[{"name": "defects", "properties": {"status": "Running"}}], web_services=[{"name": "legacy", "computeType": "AKS"}])
    demo.control.load(spec)
    ws = ResourceId.parse(WS_ID)
    assert labeling.running_projects(demo.clients, ws) == ["defects"] and services.list_web_services(demo.clients, ws) == ["legacy (AKS)"]
    with pytest.raises(MoveValidationFailed) as refused:
        moves.validate_move(demo.clients, ResourceId.parse(RG), [WS_ID], f"/subscriptions/{TARGET_SUB}/resourceGroups/ml-moved")
    assert {d["code"] for d in refused.value.details} == {"WorkspaceHasDeployedServices", "WorkspaceHasRunningLabelingProjects"}
    rest.send(demo.clients, SUB, "POST", f"{WS_ID}/labelingJobs/defects/pause", labeling.LABELING_API)
    assert labeling.running_projects(demo.clients, ws) == [], "a paused project is not labeling"


def test_compute_instance_schedules_come_back_with_the_fields_azure_adds(demo: Env, ws: ResourceId) -> None:
    body = rest.send(demo.clients, SUB, "GET", f"{WS_ID}/computes/alice-ci", rest.ML_API)
    [stop, start] = body["properties"]["properties"]["schedules"]["computeStartStop"]
    assert stop["provisioningStatus"] == "Completed" and stop["id"] != start["id"]
    spec = computes.get_compute(demo.clients, ws, "alice-ci")
    assert all("id" not in s and "provisioningStatus" not in s for s in spec.schedules), "read-only fields are neither compared nor sent back"


def test_compute_instance_names_are_unique_per_region_across_workspaces(demo: Env) -> None:
    from amlops.azure import workspaces
    from amlops.errors import Conflict

    other_eu = ResourceId.parse(f"/subscriptions/{TARGET_SUB}/resourceGroups/team/providers/Microsoft.MachineLearningServices/workspaces/team-eu")
    other_us = ResourceId.parse(f"/subscriptions/{TARGET_SUB}/resourceGroups/team/providers/Microsoft.MachineLearningServices/workspaces/team-us")
    operations.put(demo.clients, f"/subscriptions/{TARGET_SUB}/resourceGroups/team", "2025-04-01", {"location": "westeurope"})
    workspaces.create_workspace(demo.clients, other_eu, "westeurope")
    workspaces.create_workspace(demo.clients, other_us, "eastus")
    alice = computes.get_compute(demo.clients, ResourceId.parse(WS_ID), "alice-ci")
    with pytest.raises(Conflict) as refused:  # same region, another workspace and subscription
        computes.create_compute(demo.clients, other_eu, alice, "westeurope")
    assert "unique across all existing computes within an Azure region" in refused.value.message
    computes.create_compute(demo.clients, other_us, alice, "eastus")  # another region: free
    computes.delete_compute(demo.clients, ResourceId.parse(WS_ID), alice.name, "Delete")
    computes.create_compute(demo.clients, other_eu, alice, "westeurope")  # freed by the delete


def test_graph_get_by_ids_leaves_out_deleted_principals_and_needs_directory_read(demo: Env) -> None:
    from amlops.azure import directory

    alive, gone = "aaaaaaaa-0000-0000-0000-000000000001", "dddddddd-0000-0000-0000-00000000dead"
    demo.control.rules(deleted_principals=[gone])
    assert directory.missing_principals(demo.clients, [alive, gone.upper()]) == [gone]
    demo.control.rules(directory_read_denied=True)  # the caller lacks Directory.Read.All
    assert directory.missing_principals(demo.clients, [alive, gone]) is None, "cannot tell, rather than a guess"
