"""Endpoints, jobs, datastores, private endpoint connections and role assignments through the gateway."""

from __future__ import annotations

from datetime import timedelta

import pytest

from amlops.azure import datastores, endpoints, jobs, network, rest, roles
from amlops.errors import InvalidInput, NotFound, TransientError
from amlops.models import ResourceId, RoleAssignment
from tests.conftest import Env


def test_online_endpoint_snapshot_delete_and_redeploy(demo: Env, ws: ResourceId) -> None:
    [before] = endpoints.list_online_endpoints(demo.clients, ws)
    assert before.traffic == {"blue": 90, "green": 10} and [d.name for d in before.deployments] == ["blue", "green"]
    assert before.deployments[0].sku == {"name": "Default", "capacity": 2}
    endpoints.delete_online_endpoint(demo.clients, ws, "forecast-api")
    assert endpoints.list_online_endpoints(demo.clients, ws) == []
    endpoints.create_online_endpoint(demo.clients, ws, before, "westeurope")
    [after] = endpoints.list_online_endpoints(demo.clients, ws)
    assert after.traffic == before.traffic and after.deployments == before.deployments and after.auth_mode == "Key"


def test_a_deployment_whose_operation_failed_reads_failed(demo: Env, ws: ResourceId) -> None:
    [endpoint] = endpoints.list_online_endpoints(demo.clients, ws)
    endpoints.delete_online_endpoint(demo.clients, ws, endpoint.name)
    failing = endpoint.deployments[0].name
    demo.control.fault(f"/deployments/{failing}$", "lro_failed", method="PUT", count=1)
    with pytest.raises(TransientError, match="failed"):
        endpoints.create_online_endpoint(demo.clients, ws, endpoint, "westeurope")
    states = {d["name"]: d["properties"]["provisioningState"] for d in rest.list_children(demo.clients, ws, f"onlineEndpoints/{endpoint.name}/deployments")}
    assert states[failing] == "Failed", states


def test_endpoint_traffic_comes_from_azure_monitor(demo: Env, ws: ResourceId) -> None:
    endpoint_id = f"{ws}/onlineEndpoints/forecast-api"
    assert endpoints.request_count(demo.clients, ws, "forecast-api", timedelta(minutes=30)) == 0
    demo.control.traffic(endpoint_id, 40, seconds_ago=600)
    demo.control.traffic(endpoint_id, 7, seconds_ago=3 * 3600)
    assert endpoints.request_count(demo.clients, ws, "forecast-api", timedelta(minutes=30)) == 40
    assert endpoints.request_count(demo.clients, ws, "forecast-api", timedelta(hours=4)) == 47


def test_batch_endpoints_list_through_mlclient(env: Env, ws: ResourceId) -> None:
    cluster, model = f"{ws}/computes/gpu-cluster", f"{ws}/models/forecast/versions/3"
    env.load_demo()
    assert endpoints.list_batch_endpoints(env.clients, ws) == []  # the demo has none
    spec = env.load_demo()
    spec["workspaces"][0]["batch_endpoints"] = [
        {"name": "nightly-scoring", "properties": {"authMode": "AADToken"}, "deployments": [
            {"name": "v3", "properties": {"compute": cluster, "model": {"referenceType": "Id", "assetId": model}}},
            {"name": "v4", "properties": {"compute": cluster}},
        ]},
        {"name": "weekly-report", "properties": {"authMode": "Key"}},
    ]  # fmt: skip
    env.control.load(spec)
    found = {e.name: e for e in endpoints.list_batch_endpoints(env.clients, ws)}
    assert sorted(found) == ["nightly-scoring", "weekly-report"]
    nightly = found["nightly-scoring"]
    # MLClient's entity spells ARM's authMode its own way (AADToken -> aad_token), as the gateway passes it on.
    assert (nightly.auth_mode, found["weekly-report"].auth_mode, nightly.location) == ("aad_token", "key", spec["workspaces"][0]["location"])
    assert {d.name: d.properties.get("compute") for d in nightly.deployments} == {"v3": cluster, "v4": cluster}
    assert next(d for d in nightly.deployments if d.name == "v3").properties["model"]["assetId"] == model
    assert found["weekly-report"].deployments == []


def test_jobs_submit_progress_and_cancel(demo: Env, ws: ResourceId) -> None:
    job = jobs.submit_command_job(demo.clients, ws, "train-1", "python train.py", "azureml:forecast-env:1", "gpu-cluster", tags={"lineage": "L1"})
    assert job.name == "train-1" and job.tags["lineage"] == "L1" and job.compute == "gpu-cluster"
    demo.control.advance(2)
    assert jobs.get_job(demo.clients, ws, "train-1").status == "Running"
    assert [j.name for j in jobs.active_jobs(demo.clients, ws)] == ["train-1"]
    jobs.cancel_job(demo.clients, ws, "train-1")
    assert jobs.get_job(demo.clients, ws, "train-1").status == "Canceled"
    assert jobs.active_jobs(demo.clients, ws) == []


def test_forced_job_ends_show_their_reason(demo: Env, ws: ResourceId) -> None:
    jobs.submit_command_job(demo.clients, ws, "train-2", "python train.py", "azureml:forecast-env:1", "gpu-cluster")
    demo.control.job(f"{ws}/jobs/train-2", "preempt")
    ended = jobs.get_job(demo.clients, ws, "train-2")
    assert (ended.status, ended.error_code) == ("Failed", "UserError"), "Azure ML reports a preemption under UserError"
    assert "PreemptionError: Nodes of this job got pre-empted" in (ended.error_message or "")


def test_unknown_job_is_not_found(demo: Env, ws: ResourceId) -> None:
    with pytest.raises(NotFound):
        jobs.get_job(demo.clients, ws, "nope")


def test_datastore_models_never_hold_secrets(demo: Env, ws: ResourceId) -> None:
    curated = datastores.get_datastore(demo.clients, ws, "curated")
    assert curated.credentials_type == "AccountKey"
    assert "ZGVtby1hY2NvdW50LWtleQ==" not in curated.model_dump_json()
    assert datastores.read_secrets(demo.clients, ws, "curated")["key"] == "ZGVtby1hY2NvdW50LWtleQ=="


def test_repoint_keeps_credentials_and_changes_only_the_location(demo: Env, ws: ResourceId) -> None:
    mark = demo.control.mark()
    moved = datastores.repoint_datastore(demo.clients, ws, datastores.get_datastore(demo.clients, ws, "raw-landing"), "22222222-2222-2222-2222-222222222222", "ml-moved")
    assert moved.points_at("22222222-2222-2222-2222-222222222222", "ml-moved")
    assert moved.container_name == "landing" and moved.credentials_type == "Sas"
    assert datastores.read_secrets(demo.clients, ws, "raw-landing")["sasToken"] == "sv=2024-01-01&sig=ZGVtbw%3D%3D"
    # listSecrets counts against ARM's writes (datastore_blob.json), but changes nothing: the one change is the PUT.
    changes = [r["method"] for r in demo.control.writes(mark) if not r["path"].endswith("/listSecrets")]
    assert changes == ["PUT"], "one PUT in place: never deleted, never without its secret"


def test_default_datastore_cannot_be_unregistered(demo: Env, ws: ResourceId) -> None:
    with pytest.raises(InvalidInput, match="default datastore"):
        datastores.delete_datastore(demo.clients, ws, "workspaceblobstore")


def test_private_endpoint_connections(demo: Env, ws: ResourceId) -> None:
    names = [c.name for c in network.list_connections(demo.clients, ws)]
    assert names == ["pe-corp-hub", "pe-analytics"]
    rejected = network.set_connection_status(demo.clients, ws, "pe-analytics", "Rejected", "not ours")
    assert (rejected.status, rejected.description) == ("Rejected", "not ours")
    assert network.get_connection(demo.clients, ws, "pe-analytics").endpoint_subscription == "33333333-3333-3333-3333-333333333333"


def test_role_assignments_create_is_idempotent_and_delete_works(demo: Env, ws: ResourceId) -> None:
    scope = str(ws)
    existing = roles.list_at_scope(demo.clients, scope)
    assert {a.principal_id for a in existing} == {"aaaaaaaa-0000-0000-0000-000000000001", "bbbbbbbb-0000-0000-0000-000000000009"}
    grant = RoleAssignment(name="x", scope=scope, role_definition_id="/providers/Microsoft.Authorization/roleDefinitions/acdd72a7-3385-48ef-bd42-f606fba81ae7", principal_id="cccccccc-0000-0000-0000-000000000003")
    first = roles.create(demo.clients, scope, grant)
    again = roles.create(demo.clients, scope, grant)
    assert first == again and len(roles.list_at_scope(demo.clients, scope)) == 3
    same_grant_other_name = existing[0]
    assert roles.create(demo.clients, scope, same_grant_other_name).name == same_grant_other_name.name, "an identical grant is success"
    roles.delete(demo.clients, scope, first.name)
    assert len(roles.list_at_scope(demo.clients, scope)) == 2


def test_an_endpoint_redeployed_with_mirror_traffic_gets_it_once_its_deployments_exist(demo: Env, ws: ResourceId) -> None:
    """Azure refuses mirrorTraffic naming a deployment that does not exist (issue 18's held-out scenario): the first
    PUT carries neither traffic nor mirror traffic; the last carries both."""
    [before] = endpoints.list_online_endpoints(demo.clients, ws)
    shadowed = before.model_copy(update={"traffic": {"blue": 100}, "create_properties": {**before.create_properties, "traffic": {"blue": 100}, "mirrorTraffic": {"green": 10}}})
    endpoints.delete_online_endpoint(demo.clients, ws, "forecast-api")
    mark = demo.control.mark()
    endpoints.create_online_endpoint(demo.clients, ws, shadowed, "westeurope")
    [after] = endpoints.list_online_endpoints(demo.clients, ws)
    assert after.traffic == {"blue": 100} and after.mirror_traffic == {"green": 10}
    puts = [r["path"].split("/onlineEndpoints/", 1)[-1] for r in demo.control.writes(mark) if r["method"] == "PUT"]
    assert puts[0] == "forecast-api" and puts[-1] == "forecast-api" and sorted(puts[1:-1]) == ["forecast-api/deployments/blue", "forecast-api/deployments/green"]
