"""move-workspace against ARM's own rules (issue 10): refused before any write when Azure would refuse later;
what carries a subscription rebuilt in the target."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from amlops.azure import endpoints, roles
from amlops.models import ResourceId
from flows.move_workspace import move_workspace
from tests.conftest import SUB, TARGET_SUB, WS_ID, Env, demo_scenario
from tests.flows.conftest import move_args

SOURCE_RG = f"/subscriptions/{SUB}/resourceGroups/ml-prod"
TARGET_RG = f"/subscriptions/{TARGET_SUB}/resourceGroups/ml-moved"
STORAGE = f"{SOURCE_RG}/providers/Microsoft.Storage/storageAccounts/mlprodstorage"
TARGET = ResourceId.parse(WS_ID).moved_to(TARGET_SUB, "ml-moved")
CUSTOM_ROLE = "9f1e2d3c-0000-4000-8000-00000000c0de"


def _run(**changes: Any) -> Any:
    state = move_workspace(**move_args(**changes), return_state=True)
    return state, state.result(raise_on_failure=False)


def _refused(env: Env, spec: dict[str, Any], **changes: Any) -> str:
    """Load ``spec``, run the move (with ``changes`` to its arguments): it must fail before writing anything; what it said."""
    env.control.load(spec)
    mark = env.control.mark()
    state, error = _run(**changes)
    assert state.is_failed()
    assert env.control.writes(mark) == [], "refused, yet something was written"
    return str(error)


def _target_group(spec: dict[str, Any]) -> None:
    spec["resource_groups"].append({"id": TARGET_RG, "location": "westeurope"})


def _source_delete_lock(spec: dict[str, Any]) -> None:
    spec["locks"] = [{"scope": SOURCE_RG, "name": "keep-prod", "level": "CanNotDelete"}]


def _target_read_only(spec: dict[str, Any]) -> None:
    _target_group(spec)
    spec["locks"] = [{"scope": TARGET_RG, "name": "frozen", "level": "ReadOnly"}]


def _no_move_permission(spec: dict[str, Any]) -> None:
    spec["denied_actions"] = [{"scope": SOURCE_RG, "actions": ["Microsoft.Resources/subscriptions/resourceGroups/moveResources/action"]}]


def _no_compute_in_target(spec: dict[str, Any]) -> None:
    spec["policies"] = [{"name": "no-ml-compute", "scope": f"/subscriptions/{TARGET_SUB}", "resource_types": ["Microsoft.MachineLearningServices/workspaces/computes"]}]


def _shared_storage(spec: dict[str, Any]) -> None:
    spec["workspaces"].append({
        "id": f"{SOURCE_RG}/providers/Microsoft.MachineLearningServices/workspaces/ml-prod-sidecar",
        "location": "westeurope",
        "properties": {"storageAccount": STORAGE},
    })


def _custom_role_only_in_source(spec: dict[str, Any]) -> None:
    spec["role_definitions"] = [{"name": CUSTOM_ROLE, "roleName": "Forecast Operator", "assignableScopes": [f"/subscriptions/{SUB}"]}]
    spec["workspaces"][0]["role_assignments"].append({
        "name": "2c5fe924-9a61-425c-96af-cfe6e287ca2f",
        "roleDefinitionId": f"/subscriptions/{SUB}/providers/Microsoft.Authorization/roleDefinitions/{CUSTOM_ROLE}",
        "principalId": "cccccccc-0000-0000-0000-000000000003",
        "principalType": "ServicePrincipal",
    })


def _renamed_instance_held_in_region(spec: dict[str, Any]) -> None:
    spec["resource_groups"].append({"id": f"/subscriptions/{TARGET_SUB}/resourceGroups/team", "location": "westeurope"})
    spec["workspaces"].append({
        "id": f"/subscriptions/{TARGET_SUB}/resourceGroups/team/providers/Microsoft.MachineLearningServices/workspaces/team-eu",
        "location": "westeurope",
        "computes": [{"name": "alice-ci-mvd", "properties": {"computeType": "ComputeInstance", "properties": {"vmSize": "STANDARD_DS3_V2"}}}],
    })


@pytest.mark.parametrize(
    ("change", "says"),
    [
        (_source_delete_lock, ["ScopeLocked", "keep-prod", "az lock delete --ids"]),
        (_target_read_only, ["ScopeLocked", "frozen", "moving resources into ml-moved"]),
        (_no_move_permission, ["AuthorizationFailed", "moveResources/action", "Ask an owner"]),
        (_no_compute_in_target, ["RequestDisallowedByPolicy", "no-ml-compute", "exemption"]),
        (_shared_storage, ["SharedResource", "ml-prod-sidecar", "--move-shared"]),
        (_custom_role_only_in_source, ["RoleDefinitionDoesNotExist", CUSTOM_ROLE, "assignableScopes"]),
        (_renamed_instance_held_in_region, ["ComputeNameTaken", "alice-ci-mvd", "team-eu", "unique per region"]),
    ],
    ids=["source-delete-lock", "target-read-only", "no-move-permission", "policy-denies-compute", "shared-storage", "custom-role-missing", "rename-taken-in-region"],
)
def test_what_azure_would_refuse_later_is_refused_before_any_write(flows_env: Env, change: Callable[[dict[str, Any]], None], says: list[str]) -> None:
    spec = demo_scenario()
    change(spec)
    error = _refused(flows_env, spec, etag_conflict_policy="rename")  # the names it would use count too
    for text in says:
        assert text in error, f"{text!r} missing from: {error}"


def test_a_shared_resource_named_by_the_operator_moves(flows_env: Env) -> None:
    spec = demo_scenario()
    _shared_storage(spec)
    flows_env.control.load(spec)
    state, report = _run(move_shared=[STORAGE])
    assert state.is_completed(), report


def test_grants_and_deployments_are_rebuilt_naming_the_target(flows_env: Env) -> None:
    spec = demo_scenario()
    ws = spec["workspaces"][0]
    model_id = f"{WS_ID}/models/forecast/versions/3"
    ws["online_endpoints"][0]["deployments"][0]["properties"]["model"] = model_id  # a full ARM id, not azureml:
    spec["role_definitions"] = [{"name": CUSTOM_ROLE, "roleName": "Forecast Operator", "assignableScopes": [f"/subscriptions/{SUB}", f"/subscriptions/{TARGET_SUB}"]}]
    condition = "@Resource[Microsoft.Storage/storageAccounts/blobServices/containers:name] StringEquals 'curated'"
    ws["role_assignments"] = []
    spec["role_assignments"] = [
        {"scope": STORAGE, "name": "3c5fe924-9a61-425c-96af-cfe6e287ca30", "roleDefinitionId": f"/subscriptions/{SUB}/providers/Microsoft.Authorization/roleDefinitions/ba92f5b4-2d11-453d-a403-e96b0029c9fe",
         "principalId": "aaaaaaaa-0000-0000-0000-000000000001", "principalType": "User", "condition": condition, "conditionVersion": "2.0"},
        {"scope": WS_ID, "name": "4c5fe924-9a61-425c-96af-cfe6e287ca31", "roleDefinitionId": f"/subscriptions/{SUB}/providers/Microsoft.Authorization/roleDefinitions/{CUSTOM_ROLE}",
         "principalId": "cccccccc-0000-0000-0000-000000000003", "principalType": "ServicePrincipal"},
    ]
    flows_env.control.load(spec)
    state, report = _run()
    assert state.is_completed(), report

    c = flows_env.clients
    [endpoint] = endpoints.list_online_endpoints(c, TARGET)
    blue = next(d for d in endpoint.deployments if d.name == "blue")
    assert blue.properties["model"] == f"{TARGET}/models/forecast/versions/3"
    [on_storage] = roles.list_at_scope(c, STORAGE.replace(SOURCE_RG, TARGET_RG))
    assert on_storage.role_definition_id == f"/subscriptions/{TARGET_SUB}/providers/Microsoft.Authorization/roleDefinitions/ba92f5b4-2d11-453d-a403-e96b0029c9fe"
    assert (on_storage.condition, on_storage.condition_version) == (condition, "2.0")
    [on_workspace] = roles.list_at_scope(c, str(TARGET))
    assert on_workspace.role_definition_id.startswith(f"/subscriptions/{TARGET_SUB}/") and on_workspace.role_definition_id.endswith(CUSTOM_ROLE)


def test_a_datastore_with_empty_subscription_fields_is_pointed_at_the_target(flows_env: Env) -> None:
    from amlops.azure import datastores

    spec = demo_scenario()
    spec["workspaces"][0]["datastores"].append({"name": "no-fields", "properties": {
        "datastoreType": "AzureBlob", "accountName": "mlprodstorage", "containerName": "misc", "endpoint": "core.windows.net", "protocol": "https",
        "credentials": {"credentialsType": "AccountKey", "secrets": {"secretsType": "AccountKey", "key": "ZW1wdHktZmllbGRzLWtleQ=="}},
    }})
    flows_env.control.load(spec)
    state, report = _run()
    assert state.is_completed(), report
    moved = datastores.get_datastore(flows_env.clients, TARGET, "no-fields")
    assert moved.points_at(TARGET_SUB, "ml-moved") and moved.credentials_type == "AccountKey"
    assert datastores.read_secrets(flows_env.clients, TARGET, "no-fields")["key"] == "ZW1wdHktZmllbGRzLWtleQ=="


def _nightly(spec: dict[str, Any]) -> None:
    spec["workspaces"][0]["schedules"] = [
        {"name": "nightly-train", "properties": {"action": {"actionType": "CreateJob", "jobDefinition": {"jobType": "Command", "command": "python train.py"}}, "trigger": {"triggerType": "Cron", "expression": "0 2 * * *", "timeZone": "UTC"}, "isEnabled": True}},
        {"name": "retired", "properties": {"action": {"actionType": "CreateJob", "jobDefinition": {"jobType": "Command"}}, "trigger": {"triggerType": "Cron", "expression": "0 3 * * *"}, "isEnabled": False}},
    ]


def test_job_schedules_are_paused_for_the_move_and_enabled_after_it(flows_env: Env) -> None:
    from amlops.azure import schedules

    spec = demo_scenario()
    _nightly(spec)
    flows_env.control.load(spec)
    state, report = _run()
    assert state.is_completed(), report
    writes = [(r["method"], r["path"].rsplit("/", 1)[-1]) for r in flows_env.control.writes() if "/schedules/" in r["path"]]
    assert writes == [("PUT", "nightly-train"), ("PUT", "nightly-train")], "disabled once before the move, enabled once after; 'retired' untouched"
    moves = [r["seq"] for r in flows_env.control.requests() if r["path"].endswith("/moveResources")]
    puts = [r["seq"] for r in flows_env.control.requests() if r["method"] == "PUT" and "/schedules/" in r["path"]]
    assert puts[0] < moves[0] < puts[1]
    assert schedules.list_schedule_names(flows_env.clients, TARGET) == ["nightly-train"]
    assert schedules.list_schedule_names(flows_env.clients, TARGET, enabled=False) == ["retired"]


def test_a_failed_move_enables_the_paused_schedules_in_the_source(flows_env: Env) -> None:
    from amlops.azure import schedules

    spec = demo_scenario()
    _nightly(spec)
    flows_env.control.load(spec)
    flows_env.control.fault("validateMoveResources", "409", method="POST", count=1)
    state, _ = _run()
    assert state.is_failed()
    assert schedules.list_schedule_names(flows_env.clients, ResourceId.parse(WS_ID)) == ["nightly-train"]


PROFILE_ACTION = "_azureml.DatasetActionId"  # azureml-core's DatasetProfileRun property


def _labeling_and_services(spec: dict[str, Any]) -> None:
    ws = spec["workspaces"][0]
    ws["labeling_jobs"] = [{"name": "defects", "properties": {"status": "Running"}}, {"name": "old-project", "properties": {"status": "Completed"}}]
    ws["web_services"] = [{"name": "legacy-scoring", "computeType": "ACI"}]
    ws["experiments"] = [{"name": "profile-sales", "runs": [
        {"runId": "dataset_5f1c", "status": "Running", "properties": {PROFILE_ACTION: "a-1"}},
        {"runId": "dataset_0a2b", "status": "Completed", "properties": {PROFILE_ACTION: "a-0"}},
    ]}]


def test_running_labeling_projects_deployed_web_services_and_data_profiling_refuse_the_move(flows_env: Env) -> None:
    spec = demo_scenario()
    _labeling_and_services(spec)
    error = _refused(flows_env, spec)
    assert "LabelingProjectsRunning" in error and "defects" in error and "old-project" not in error
    assert "DeployedWebServices" in error and "legacy-scoring (ACI)" in error
    assert "DataProfilingRunning" in error and "profile-sales/dataset_5f1c" in error and "dataset_0a2b" not in error


def _start_labeling(env: Env) -> None:
    from amlops.azure import labeling, rest

    rest.send(env.clients, SUB, "PUT", f"{WS_ID}/labelingJobs/late-project", labeling.LABELING_API, {"properties": {"jobType": "Labeling", "status": "Running"}})


def _start_profiling(env: Env) -> None:
    from amlops.azure import rest

    ws, history = ResourceId.parse(WS_ID), f"/history/v1.0{WS_ID}/experiments"
    rest.ml_data_plane(env.clients, ws, f"{history}/late-profile", method="POST")
    rest.ml_data_plane(env.clients, ws, f"{history}/late-profile/runs/dataset_77aa", method="PATCH", body={"status": "Running", "properties": {PROFILE_ACTION: "a-7"}})


@pytest.mark.parametrize(("start", "code"), [(_start_labeling, "LabelingProjectsRunning"), (_start_profiling, "DataProfilingRunning")], ids=["labeling", "profiling"])
def test_what_starts_while_the_plan_waits_for_approval_refuses_the_move_before_any_delete(flows_env: Env, start: Callable[[Env], None], code: str) -> None:
    from flows import pauses
    from tests.flows.test_approvals import Background

    flows_env.load_demo()
    run = Background(move_workspace, **move_args(approve_plan_as=None, confirm_workspace=None))
    paused = run.paused("workspace_name")
    start(flows_env)  # someone starts work in the workspace while the plan is read
    mark = flows_env.control.mark()
    pauses.answer(paused.id, approve=True, approver="carol", reason="CHG-9", workspace_name="ml-prod-ws")
    state = run.result()
    assert state.is_failed() and code in str(state.result(raise_on_failure=False))
    assert [r for r in flows_env.control.requests(mark) if r["method"] == "DELETE"] == [], "nothing was deleted after it started"


def test_grants_of_a_replaced_system_identity_go_to_the_new_one(flows_env: Env) -> None:
    from amlops.azure import computes
    from amlops.models import RoleAssignment

    flows_env.load_demo()
    old = computes.get_compute(flows_env.clients, ResourceId.parse(WS_ID), "gpu-cluster").principal_id
    assert old, "a SystemAssigned compute has a principal"
    reader = f"/subscriptions/{SUB}/providers/Microsoft.Authorization/roleDefinitions/2a2b9908-6ea1-4ae2-8e65-a410df84e7d1"
    roles.create(flows_env.clients, STORAGE, RoleAssignment(name="x", scope=STORAGE, role_definition_id=reader, principal_id=old, principal_type="ServicePrincipal"))
    state, report = _run()
    assert state.is_completed(), report
    new = computes.get_compute(flows_env.clients, TARGET, "gpu-cluster").principal_id
    assert new and new != old
    [grant] = [a for a in roles.list_at_scope(flows_env.clients, STORAGE.replace(SOURCE_RG, TARGET_RG)) if a.principal_id == new]
    assert grant.role_definition_id == reader.replace(SUB, TARGET_SUB)
    assert any(old in n and new in n for n in report.notes), "the report says which identity was replaced"


def test_batch_deployments_are_re_pointed_at_the_re_created_cluster(flows_env: Env) -> None:
    from amlops.azure import rest

    spec = demo_scenario()
    spec["workspaces"][0]["batch_endpoints"] = [{"name": "nightly-scoring", "properties": {"authMode": "AADToken"}, "deployments": [
        {"name": "v3", "properties": {"compute": f"{WS_ID}/computes/gpu-cluster", "model": {"referenceType": "Id", "assetId": f"{WS_ID}/models/forecast/versions/3"}}},
    ]}]
    flows_env.control.load(spec)
    state, report = _run()
    assert state.is_completed(), report
    body = rest.send(flows_env.clients, TARGET_SUB, "GET", f"{TARGET}/batchEndpoints/nightly-scoring/deployments/v3", rest.ML_API)
    assert body["properties"]["compute"] == f"{TARGET}/computes/gpu-cluster"
    assert body["properties"]["model"]["assetId"] == f"{TARGET}/models/forecast/versions/3"


def test_grants_of_an_online_endpoint_s_system_identity_go_to_the_redeployed_endpoint(flows_env: Env) -> None:
    from amlops.models import RoleAssignment

    flows_env.load_demo()
    [before] = endpoints.list_online_endpoints(flows_env.clients, ResourceId.parse(WS_ID))
    old = before.principal_id
    assert old, "an online endpoint is system-assigned unless told otherwise"
    reader = f"/subscriptions/{SUB}/providers/Microsoft.Authorization/roleDefinitions/2a2b9908-6ea1-4ae2-8e65-a410df84e7d1"
    roles.create(flows_env.clients, STORAGE, RoleAssignment(name="x", scope=STORAGE, role_definition_id=reader, principal_id=old, principal_type="ServicePrincipal"))
    state, report = _run()
    assert state.is_completed(), report
    [after] = endpoints.list_online_endpoints(flows_env.clients, TARGET)
    assert after.principal_id and after.principal_id != old, "a redeployed endpoint has a new principal"
    grants = {a.principal_id: a for a in roles.list_at_scope(flows_env.clients, STORAGE.replace(SOURCE_RG, TARGET_RG))}
    assert old not in grants, "nothing granted to an identity that no longer exists"
    assert grants[after.principal_id].role_definition_id == reader.replace(SUB, TARGET_SUB)
    assert any(old in n and after.principal_id in n and "online endpoint forecast-api" in n for n in report.notes), "the report says which identity was replaced"


@pytest.mark.parametrize("directory_readable", [True, False], ids=["seen-in-the-directory-before-the-move", "found-by-the-rebuild"])
def test_a_grant_to_a_principal_deleted_from_the_directory_is_skipped_with_the_reason(flows_env: Env, directory_readable: bool) -> None:
    """With Directory.Read.All, Microsoft Graph says before any deletion that the principal is gone, and the plan
    lists the grant as not re-created; without it, ARM's PrincipalNotFound at the rebuild skips it. Either way the
    move completes and says why the grant is not there."""
    gone = "dddddddd-0000-0000-0000-00000000dead"
    spec = demo_scenario()
    spec["workspaces"][0]["role_assignments"].append({
        "name": "5c5fe924-9a61-425c-96af-cfe6e287ca32",
        "roleDefinitionId": f"/subscriptions/{SUB}/providers/Microsoft.Authorization/roleDefinitions/f6c7c914-8db3-469d-8ca1-694a8f32e121",
        "principalId": gone, "principalType": "User",
    })
    flows_env.control.load(spec)
    flows_env.control.rules(deleted_principals=[gone], directory_read_denied=not directory_readable)  # left after the grant was made
    plan_state, planned = _run(dry_run=True)
    assert plan_state.is_completed()
    assert any(gone in g.key for g in planned.plan.grants_to("skip")) == directory_readable
    assert all(gone not in g.key for g in planned.plan.grants_to("re-create")) == directory_readable
    state, report = _run()
    assert state.is_completed(), report
    refused = [r for r in flows_env.control.requests() if r["status"] == 400 and "roleAssignments" in r["path"]]
    assert bool(refused) != directory_readable, "known gone before the move: never asked ARM to grant it"
    assert gone not in {a.principal_id for a in roles.list_at_scope(flows_env.clients, str(TARGET))}
    assert any(gone in n and "PrincipalNotFound" in n for n in report.notes), "the report says which grant was skipped and why"
    [check] = [c for c in report.checks if gone in c.name]
    assert check.ok and "no longer exists" in check.actual
    others = [c for c in report.checks if c.kind == "role assignment" and gone not in c.name]
    assert others and all(c.ok for c in others), "every other grant was re-created"
