"""validateMoveResources and moveResources: every refusal the move documentation names, every effect."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from amlops.azure import computes, datastores, endpoints, moves, network, resources, rest, roles, workspaces
from amlops.errors import Conflict, Locked, MoveValidationFailed, NotFound
from amlops.models import ComputeSpec, ResourceId
from tests.conftest import SUB, TARGET_SUB, Env, demo_scenario

TARGET_RG = f"/subscriptions/{TARGET_SUB}/resourceGroups/ml-moved"


def _remove(env: Env, ws: ResourceId, spec: ComputeSpec) -> None:
    """As the move does: attached compute detached (its cluster stays), Azure-made compute deleted."""
    computes.delete_compute(env.clients, ws, spec.name, "Detach" if spec.is_attached else "Delete")


def _emptied(env: Env, ws: ResourceId) -> None:
    """The documented preparation: compute and online endpoints gone."""
    for spec in computes.list_computes(env.clients, ws):
        _remove(env, ws, spec)
    for endpoint in endpoints.list_online_endpoints(env.clients, ws):
        endpoints.delete_online_endpoint(env.clients, ws, endpoint.name)


def _with_target(env: Env, *changes: Callable[[dict[str, Any]], None]) -> None:
    """The demo scenario plus the target resource group, with any changes applied."""
    spec = demo_scenario()
    spec["resource_groups"].append({"id": TARGET_RG, "location": "westeurope"})
    for change in changes:
        change(spec)
    env.control.load(spec)


def _ready(env: Env, ws: ResourceId, *changes: Callable[[dict[str, Any]], None]) -> None:
    _with_target(env, *changes)
    _emptied(env, ws)


def _codes(env: Env, ws: ResourceId, target: str = TARGET_RG) -> list[str]:
    with pytest.raises(MoveValidationFailed) as err:
        moves.validate_move(env.clients, ws, [str(ws)], target)
    return [d["code"] for d in err.value.details]


def test_a_prepared_workspace_validates(env: Env, ws: ResourceId) -> None:
    _ready(env, ws)
    moves.validate_move(env.clients, ws, [str(ws)], TARGET_RG)


def test_refused_while_compute_exists_including_compute_being_created(env: Env, ws: ResourceId) -> None:
    _with_target(env)
    for endpoint in endpoints.list_online_endpoints(env.clients, ws):
        endpoints.delete_online_endpoint(env.clients, ws, endpoint.name)
    specs = computes.list_computes(env.clients, ws)
    for spec in specs[1:]:
        _remove(env, ws, spec)
    assert _codes(env, ws) == ["WorkspaceHasCompute"]
    _remove(env, ws, specs[0])
    env.control.settings(lro={"default": {"mode": "immediate"}, "compute.create": {"mode": "seconds", "seconds": 600}})
    body = {"location": "westeurope", "properties": specs[0].create_properties}
    rest.send(env.clients, SUB, "PUT", f"{ws}/computes/{specs[0].name}", rest.ML_API, body)  # started, not awaited
    assert computes.get_compute(env.clients, ws, specs[0].name).provisioning_state == "Creating"
    assert _codes(env, ws) == ["WorkspaceHasCompute"]


def test_refused_with_online_endpoints(env: Env, ws: ResourceId) -> None:
    _with_target(env)
    for spec in computes.list_computes(env.clients, ws):
        _remove(env, ws, spec)
    assert _codes(env, ws) == ["WorkspaceHasOnlineEndpoints"]


def test_refused_with_customer_managed_key(env: Env, ws: ResourceId) -> None:
    def cmk(spec: dict[str, Any]) -> None:
        spec["workspaces"][0]["properties"]["encryption"] = {"status": "Enabled", "keyVaultProperties": {"keyIdentifier": "https://kv/keys/k"}}

    _ready(env, ws, cmk)
    assert workspaces.get_workspace(env.clients, ws).customer_managed_key
    assert _codes(env, ws) == ["CustomerManagedKeyNotSupported"]


def test_refused_with_databricks_link(env: Env, ws: ResourceId) -> None:
    def link(spec: dict[str, Any]) -> None:
        spec["resources"].append({
            "id": f"/subscriptions/{SUB}/resourceGroups/ml-prod/providers/Microsoft.Databricks/workspaces/dbw",
            "location": "westeurope",
            "properties": {"parameters": {"amlWorkspaceId": {"value": str(ws)}}},
        })

    _ready(env, ws, link)
    assert _codes(env, ws) == ["DatabricksLinkNotSupported"]


def test_refused_across_regions(env: Env, ws: ResourceId) -> None:
    _ready(env, ws)
    resources.ensure_resource_group(env.clients, TARGET_SUB, "ml-east", "eastus")
    assert _codes(env, ws, f"/subscriptions/{TARGET_SUB}/resourceGroups/ml-east") == ["CrossRegionMoveNotSupported"]


def test_refused_across_tenants(env: Env, ws: ResourceId) -> None:
    def other_tenant(spec: dict[str, Any]) -> None:
        spec["subscriptions"][1]["tenant"] = "99999999-9999-9999-9999-999999999999"

    _ready(env, ws, other_tenant)
    assert _codes(env, ws) == ["CrossTenantMoveNotSupported"]


def test_refused_without_target_group(env: Env, ws: ResourceId) -> None:
    env.load_demo()
    _emptied(env, ws)
    assert _codes(env, ws) == ["ResourceGroupNotFound"]


def test_refused_without_required_providers(env: Env, ws: ResourceId) -> None:
    def unregistered(spec: dict[str, Any]) -> None:
        spec["subscriptions"][1]["providers"] = ["Microsoft.MachineLearningServices", "Microsoft.Storage"]

    _ready(env, ws, unregistered)
    with pytest.raises(MoveValidationFailed, match="Microsoft.ContainerRegistry") as err:
        moves.validate_move(env.clients, ws, [str(ws)], TARGET_RG)
    assert [d["code"] for d in err.value.details] == ["MissingRegistrationsForTargetSubscription"]


def test_refusal_names_every_reason_at_once(env: Env, ws: ResourceId) -> None:
    env.load_demo()
    assert _codes(env, ws) == ["ResourceGroupNotFound", "WorkspaceHasCompute", "WorkspaceHasOnlineEndpoints"]


def test_move_effects(env: Env, ws: ResourceId) -> None:
    _ready(env, ws)
    storage = workspaces.get_workspace(env.clients, ws).storage_account
    assert storage
    assert moves.move_resources(env.clients, ws, [str(ws), storage], TARGET_RG, lambda token: None) == ("succeeded", "")
    moved = ws.moved_to(TARGET_SUB, "ml-moved")

    with pytest.raises(NotFound):
        workspaces.get_workspace(env.clients, ws)
    info = workspaces.get_workspace(env.clients, moved)
    assert info.id == str(moved) and info.storage_account == f"{TARGET_RG}/providers/Microsoft.Storage/storageAccounts/mlprodstorage"
    assert workspaces.list_asset_names(env.clients, moved)["models"] == ["forecast"], "assets move with the workspace"

    stores = {d.name: d for d in datastores.list_datastores(env.clients, moved)}
    assert stores["workspaceblobstore"].points_at(TARGET_SUB, "ml-moved"), "Azure updates the default datastores"
    assert stores["curated"].points_at(SUB, "ml-prod"), "non-default datastores keep the old subscription and group"
    assert datastores.read_secrets(env.clients, moved, "curated")["key"] == "ZGVtby1hY2NvdW50LWtleQ==", "secrets move along"

    connections = {c.name: c.status for c in network.list_connections(env.clients, moved)}
    assert connections["pe-corp-hub"] == "Disconnected" and connections["pe-analytics"] == "Disconnected"
    pending = [n for n, s in connections.items() if s == "Pending"]
    assert len(pending) == 2 and all(n.startswith(("pe-corp-hub-", "pe-analytics-")) for n in pending)

    assert roles.list_at_scope(env.clients, str(moved)) == [], "workspace-scoped role assignments are left behind"


def test_same_name_compute_conflicts_right_after_a_move(env: Env, ws: ResourceId) -> None:
    _with_target(env)
    alice = computes.get_compute(env.clients, ws, "alice-ci")
    _emptied(env, ws)
    moves.move_resources(env.clients, ws, [str(ws)], TARGET_RG, lambda token: None)
    moved = ws.moved_to(TARGET_SUB, "ml-moved")
    with pytest.raises(Conflict, match="Etag conflict"):
        computes.create_compute(env.clients, moved, alice, "westeurope")
    assert computes.create_compute(env.clients, moved, alice, "westeurope").settings() == alice.settings()


def test_groups_are_locked_while_the_move_runs(env: Env, ws: ResourceId) -> None:
    _ready(env, ws)
    env.control.settings(lro={"default": {"mode": "immediate"}, "move": {"mode": "seconds", "seconds": 120}})
    body = {"resources": [str(ws)], "targetResourceGroup": TARGET_RG}
    rest.send(env.clients, SUB, "POST", f"/subscriptions/{SUB}/resourceGroups/ml-prod/moveResources", "2025-04-01", body)  # started, not awaited
    with pytest.raises(Locked, match="moving resources"):
        datastores.repoint_datastore(env.clients, ws, datastores.get_datastore(env.clients, ws, "curated"), TARGET_SUB, "ml-moved")
    resources.ensure_resource_group(env.clients, TARGET_SUB, "ml-other", "westeurope")  # a new group elsewhere is fine
    assert resources.get_resource_group(env.clients, TARGET_SUB, "ml-other") is not None
    with pytest.raises(Locked):
        network.set_connection_status(env.clients, ws, "pe-corp-hub", "Rejected", "x")
    env.control.advance(120)
    moved = ws.moved_to(TARGET_SUB, "ml-moved")
    assert datastores.repoint_datastore(env.clients, moved, datastores.get_datastore(env.clients, moved, "curated"), TARGET_SUB, "ml-moved").points_at(TARGET_SUB, "ml-moved")


def test_a_move_in_flight_is_followed_from_its_operation_by_a_new_client(env: Env, ws: ResourceId) -> None:
    """What a run that died mid-move leaves behind: Azure's operation, which a new process follows to its end."""
    _ready(env, ws)
    env.control.settings(lro={"default": {"mode": "immediate"}, "move": {"mode": "polls", "count": 3}})
    tokens: list[str] = []

    class Died(Exception):
        pass

    def die_once_accepted(token: str) -> None:
        tokens.append(token)
        raise Died  # the process is gone the moment Azure accepted the move

    with pytest.raises(Died):
        moves.move_resources(env.clients, ws, [str(ws)], TARGET_RG, die_once_accepted)
    assert "authorization" not in tokens[0].lower() and "bearer" not in tokens[0].lower(), "the token holds no credential"
    workspaces.get_workspace(env.clients, ws)  # still in the source: the move is running
    assert moves.follow_move(env.fresh_clients(), ws, [str(ws)], TARGET_RG, tokens[0]) == ("succeeded", "")
    workspaces.get_workspace(env.clients, ws.moved_to(TARGET_SUB, "ml-moved"))


def test_a_move_azure_fails_is_reported_failed_not_raised(env: Env, ws: ResourceId) -> None:
    _ready(env, ws)
    env.control.fault("/moveResources$", "lro_failed", method="POST", code="InternalServerError")
    end, message = moves.move_resources(env.clients, ws, [str(ws)], TARGET_RG, lambda token: None)
    assert end == "failed" and "InternalServerError" in message
    workspaces.get_workspace(env.clients, ws)  # nothing moved
