"""Resource groups, providers, generic resources and workspaces through the gateway."""

from __future__ import annotations

import pytest

from amlops.azure import resources, workspaces
from amlops.errors import InvalidInput, NotFound
from amlops.models import ResourceId
from tests.conftest import SUB, Env

NEW_SUB = "44444444-4444-4444-4444-444444444444"


def test_resource_group_lifecycle(env: Env) -> None:
    assert resources.get_resource_group(env.clients, NEW_SUB, "rg-a") is None
    group = resources.ensure_resource_group(env.clients, NEW_SUB, "rg-a", "northeurope")
    assert group.location == "northeurope"
    assert resources.ensure_resource_group(env.clients, NEW_SUB, "rg-a", "northeurope") == group
    resources.delete_resource_group(env.clients, NEW_SUB, "rg-a")
    assert resources.get_resource_group(env.clients, NEW_SUB, "rg-a") is None


def test_unknown_subscription_is_not_found_once_a_scenario_declares_them(demo: Env) -> None:
    with pytest.raises(NotFound, match="subscription"):
        resources.get_resource_group(demo.clients, NEW_SUB, "rg")


def test_provider_states_and_registration(demo: Env) -> None:
    spec = demo.load_demo()
    spec["subscriptions"][1]["providers"] = ["Microsoft.MachineLearningServices"]
    demo.control.load(spec)
    target = spec["subscriptions"][1]["id"]
    states = {p.namespace: p.registered for p in resources.provider_states(demo.clients, target, ["Microsoft.MachineLearningServices", "Microsoft.KeyVault"])}
    assert states == {"Microsoft.MachineLearningServices": True, "Microsoft.KeyVault": False}
    assert resources.register_provider(demo.clients, target, "Microsoft.KeyVault").registered


def test_workspace_create_get_update_list_delete(env: Env) -> None:
    resources.ensure_resource_group(env.clients, NEW_SUB, "rg-w", "eastus")
    ws = ResourceId.workspace(NEW_SUB, "rg-w", "ws-one")
    created = workspaces.create_workspace(env.clients, ws, "eastus", {"description": "first"})
    assert created.location == "eastus" and created.description == "first"
    assert workspaces.update_workspace(env.clients, ws, description="second", tags={"a": "b"}).tags == {"a": "b"}
    assert [w.name for w in workspaces.list_workspaces(env.clients, NEW_SUB)] == ["ws-one"]
    workspaces.delete_workspace(env.clients, ws)
    with pytest.raises(NotFound, match="ws-one"):
        workspaces.get_workspace(env.clients, ws)


def test_workspace_facts_the_move_needs(demo: Env, ws: ResourceId) -> None:
    info = workspaces.get_workspace(demo.clients, ws)
    assert info.location == "westeurope" and not info.customer_managed_key
    assert info.storage_account and info.storage_account.endswith("mlprodstorage")
    assert workspaces.list_asset_names(demo.clients, ws) == {"environments": ["forecast-env"], "models": ["forecast"], "data": ["sales"]}


def test_databricks_workspaces_are_found_by_type(demo: Env) -> None:
    db = f"/subscriptions/{SUB}/resourceGroups/ml-prod/providers/Microsoft.Databricks/workspaces/dbw"
    spec = demo.load_demo()
    spec["resources"].append({"id": db, "location": "westeurope", "properties": {"parameters": {"amlWorkspaceId": {"value": "x"}}}})
    demo.control.load(spec)
    assert resources.list_resources_of_type(demo.clients, SUB, "Microsoft.Databricks/workspaces") == [db]
    assert resources.get_raw(demo.clients, db, "2024-05-01")["properties"]["parameters"]["amlWorkspaceId"]["value"] == "x"


def test_unknown_workspace_is_a_clear_not_found(demo: Env) -> None:
    with pytest.raises(NotFound, match="nope"):
        workspaces.get_workspace(demo.clients, ResourceId.workspace(SUB, "ml-prod", "nope"))


def test_not_a_workspace_id_is_refused_before_any_request(demo: Env) -> None:
    mark = demo.control.mark()
    with pytest.raises(InvalidInput, match="not an Azure ML workspace"):
        workspaces.get_workspace(demo.clients, ResourceId.parse(f"/subscriptions/{SUB}/resourceGroups/ml-prod/providers/Microsoft.Storage/storageAccounts/x"))
    assert demo.control.requests(mark) == []


def test_subscription_tenant(demo: Env) -> None:
    assert resources.subscription_tenant(demo.clients, SUB) == "72f988bf-86f1-41af-91ab-2d7cd011db47"


def test_databricks_link_is_found_by_its_aml_workspace_parameter(demo: Env, ws: ResourceId) -> None:
    spec = demo.load_demo()
    for name, target in (("linked", str(ws)), ("other", str(ws) + "-not")):
        spec["resources"].append({
            "id": f"/subscriptions/{SUB}/resourceGroups/ml-prod/providers/Microsoft.Databricks/workspaces/{name}",
            "location": "westeurope",
            "properties": {"parameters": {"amlWorkspaceId": {"value": target.upper() if name == "linked" else target}}},
        })
    demo.control.load(spec)
    assert [i.rsplit("/", 1)[-1] for i in resources.databricks_links(demo.clients, SUB, str(ws))] == ["linked"]
