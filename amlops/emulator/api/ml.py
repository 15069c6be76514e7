"""Handlers for Microsoft.MachineLearningServices: workspaces and everything in them."""

from __future__ import annotations

from amlops.emulator import lro
from amlops.emulator.api.common import accepted, created, deleting, fault_error, group_id, page, upserted, workspace_id
from amlops.emulator.errors import bad_request
from amlops.emulator.http import Request, Response, ok
from amlops.emulator.models import computes, datastores, endpoints, jobs, labeling, metrics, network, runhistory, schedules, workspaces
from amlops.emulator.models.common import public
from amlops.emulator.state import State

# -- workspaces


def put_workspace(state: State, req: Request) -> Response:
    body, op = workspaces.put_workspace(state, workspace_id(req), req.body or {})
    return accepted(state, req, op, status=201, body=workspaces.get_workspace(state, body["id"]))


def get_workspace(state: State, req: Request) -> Response:
    return ok(workspaces.get_workspace(state, workspace_id(req)))


def patch_workspace(state: State, req: Request) -> Response:
    return ok(workspaces.patch_workspace(state, workspace_id(req), req.body or {}))


def delete_workspace(state: State, req: Request) -> Response:
    return deleting(state, req, workspaces.delete_workspace(state, workspace_id(req)))


def list_workspaces_in_group(state: State, req: Request) -> Response:
    return page(state, req, workspaces.list_workspaces(state, group_id(req)))


def list_workspaces_in_subscription(state: State, req: Request) -> Response:
    state.subscription(req.params["sub"])
    return page(state, req, workspaces.list_workspaces(state, f"/subscriptions/{req.params['sub']}"))


def list_keys(state: State, req: Request) -> Response:
    return ok(workspaces.list_keys(state, workspace_id(req)))


def put_asset(state: State, req: Request) -> Response:
    return ok(workspaces.put_asset(state, req.path, req.body or {}))


def get_asset(state: State, req: Request) -> Response:
    workspaces.require_workspace(state, workspace_id(req))
    return ok(state.store.require(req.path))


def list_assets(state: State, req: Request) -> Response:
    workspaces.require_workspace(state, workspace_id(req))
    parent, segment = req.path.rstrip("/").rsplit("/", 1)
    return page(state, req, state.store.children(parent, segment))


# -- computes


def put_compute(state: State, req: Request) -> Response:
    return upserted(state, req, computes.create_compute(state, workspace_id(req), req.params["name"], req.body or {}, fault_error(req)))


def _observed(state: State, body: dict) -> dict:
    """A compute instance executing a job reads JobRunning (ComputeInstanceState in the machinelearningservices
    REST specification: Running, JobRunning, SettingUp, UserSettingUp, Starting, Stopping, ...)."""
    inner = body["properties"].get("properties") or {}
    if body["properties"]["computeType"] != "ComputeInstance" or inner.get("state") != "Running":
        return body
    if not any(j["properties"]["status"] == "Running" for j in jobs.active_on(state, body["id"])):
        return body
    view = public(body)
    view["properties"]["properties"]["state"] = "JobRunning"
    return view


def get_compute(state: State, req: Request) -> Response:
    return ok(_observed(state, computes.get_compute(state, workspace_id(req), req.params["name"])))


def list_computes(state: State, req: Request) -> Response:
    return page(state, req, [_observed(state, c) for c in computes.list_computes(state, workspace_id(req))])


def patch_compute(state: State, req: Request) -> Response:
    body = computes.update_compute(state, workspace_id(req), req.params["name"], req.body or {})
    op = lro.start(state, "compute.update", req.params["sub"], lambda: body)
    return accepted(state, req, op, status=200, body=body)


def delete_compute(state: State, req: Request) -> Response:
    action = req.query.get("underlyingResourceAction", "")
    op = computes.delete_compute(state, workspace_id(req), req.params["name"], action, fault_error(req))
    return accepted(state, req, op, location_header=True)


def start_compute(state: State, req: Request) -> Response:
    return deleting(state, req, computes.power(state, workspace_id(req), req.params["name"], "start", fault_error(req)))


def stop_compute(state: State, req: Request) -> Response:
    op = computes.power(state, workspace_id(req), req.params["name"], "stop", fault_error(req))
    return accepted(state, req, op)


def restart_compute(state: State, req: Request) -> Response:
    return deleting(state, req, computes.power(state, workspace_id(req), req.params["name"], "restart", fault_error(req)))


def update_idle_shutdown(state: State, req: Request) -> Response:
    computes.update_idle_shutdown(state, workspace_id(req), req.params["name"], req.body or {})
    return Response(200)


def list_nodes(state: State, req: Request) -> Response:
    return ok(computes.list_nodes(state, workspace_id(req), req.params["name"]))


# -- online and batch endpoints


def put_endpoint(state: State, req: Request) -> Response:
    return upserted(state, req, endpoints.put_endpoint(state, workspace_id(req), req.params["kind"], req.params["name"], req.body or {}, fault_error(req)))


def get_endpoint(state: State, req: Request) -> Response:
    return ok(endpoints.get_endpoint(state, workspace_id(req), req.params["kind"], req.params["name"]))


def list_endpoints(state: State, req: Request) -> Response:
    return page(state, req, endpoints.list_endpoints(state, workspace_id(req), req.params["kind"]))


def delete_endpoint(state: State, req: Request) -> Response:
    return deleting(state, req, endpoints.delete_endpoint(state, workspace_id(req), req.params["kind"], req.params["name"], fault_error(req)))


def put_deployment(state: State, req: Request) -> Response:
    return upserted(state, req, endpoints.put_deployment(state, workspace_id(req), req.params["endpoint"], req.params["name"], req.body or {}, fault_error(req)))


def get_deployment(state: State, req: Request) -> Response:
    return ok(endpoints.get_deployment(state, workspace_id(req), req.params["endpoint"], req.params["name"]))


def list_deployments(state: State, req: Request) -> Response:
    return page(state, req, endpoints.list_deployments(state, workspace_id(req), req.params["endpoint"]))


def delete_deployment(state: State, req: Request) -> Response:
    return deleting(state, req, endpoints.delete_deployment(state, workspace_id(req), req.params["endpoint"], req.params["name"]))


def endpoint_metrics(state: State, req: Request) -> Response:
    names = req.query.get("metricnames", "")
    timespan = req.query.get("timespan", "")
    if not names or not timespan:
        raise bad_request("metricnames and timespan are required.", "BadRequest")
    return ok(metrics.request_metrics(state, req.params["resource"], names, timespan))


# -- jobs


def put_job(state: State, req: Request) -> Response:
    return created(*jobs.put_job(state, workspace_id(req), req.params["name"], req.body or {}))


def get_job(state: State, req: Request) -> Response:
    return ok(public(jobs.get_job(state, workspace_id(req), req.params["name"])))


def list_jobs(state: State, req: Request) -> Response:
    return page(state, req, jobs.list_jobs(state, workspace_id(req), req.query.get("listViewType", "ActiveOnly")))


def delete_job(state: State, req: Request) -> Response:
    return deleting(state, req, jobs.delete_job(state, workspace_id(req), req.params["name"]))


def cancel_job(state: State, req: Request) -> Response:
    return deleting(state, req, jobs.cancel_job(state, workspace_id(req), req.params["name"]))


# -- datastores


def put_datastore(state: State, req: Request) -> Response:
    return created(*datastores.put_datastore(state, workspace_id(req), req.params["name"], req.body or {}))


def get_datastore(state: State, req: Request) -> Response:
    return ok(datastores.get_datastore(state, workspace_id(req), req.params["name"]))


def list_datastores(state: State, req: Request) -> Response:
    flag = req.query.get("isDefault")
    is_default = None if flag is None else flag.lower() == "true"
    return page(state, req, datastores.list_datastores(state, workspace_id(req), is_default))


def delete_datastore(state: State, req: Request) -> Response:
    return Response(200 if datastores.delete_datastore(state, workspace_id(req), req.params["name"]) else 204)


def list_secrets(state: State, req: Request) -> Response:
    return ok(datastores.list_secrets(state, workspace_id(req), req.params["name"]))


# -- private endpoint connections


def put_connection(state: State, req: Request) -> Response:
    return ok(network.put_connection(state, workspace_id(req), req.params["name"], req.body or {}))


def get_connection(state: State, req: Request) -> Response:
    return ok(network.get_connection(state, workspace_id(req), req.params["name"]))


def list_connections(state: State, req: Request) -> Response:
    return page(state, req, network.list_connections(state, workspace_id(req)))


def delete_connection(state: State, req: Request) -> Response:
    return Response(200 if network.delete_connection(state, workspace_id(req), req.params["name"]) else 204)


def list_private_link_resources(state: State, req: Request) -> Response:
    workspace = workspaces.require_workspace(state, workspace_id(req))
    resource = {
        "id": f"{workspace['id']}/privateLinkResources/amlworkspace",
        "name": "amlworkspace",
        "type": "Microsoft.MachineLearningServices/workspaces/privateLinkResources",
        "properties": {"groupId": "amlworkspace", "requiredMembers": ["default"], "requiredZoneNames": ["privatelink.api.azureml.ms"]},
    }
    return ok({"value": [resource]})


# -- Azure ML schedules


def put_schedule(state: State, req: Request) -> Response:
    return upserted(state, req, schedules.put_schedule(state, workspace_id(req), req.params["name"], req.body or {}))


def get_schedule(state: State, req: Request) -> Response:
    return ok(schedules.get_schedule(state, workspace_id(req), req.params["name"]))


def list_schedules(state: State, req: Request) -> Response:
    return page(state, req, schedules.list_schedules(state, workspace_id(req), req.query.get("listViewType", "EnabledOnly")))


def delete_schedule(state: State, req: Request) -> Response:
    return Response(200 if schedules.delete_schedule(state, workspace_id(req), req.params["name"]) else 204)


# -- run history (Azure ML's regional data plane, served by the emulator on its own host)


def run_details(state: State, req: Request) -> Response:
    return ok(jobs.run_details(state, jobs.get_job(state, workspace_id(req), req.params["run"])))


# -- v1 run history: experiments and runs (data profiling runs among them)


def create_experiment(state: State, req: Request) -> Response:
    return ok(runhistory.experiment_view(runhistory.create_experiment(state, workspace_id(req), req.params["experiment"])))


def query_experiments(state: State, req: Request) -> Response:
    return ok(runhistory.query_experiments(state, workspace_id(req), req.body or {}))


def patch_run(state: State, req: Request) -> Response:
    return ok(runhistory.run_view(runhistory.patch_run(state, workspace_id(req), req.params["experiment"], req.params["run"], req.body or {})))


def get_run(state: State, req: Request) -> Response:
    return ok(runhistory.run_view(runhistory.get_run(state, workspace_id(req), req.params["experiment"], req.params["run"])))


def query_runs(state: State, req: Request) -> Response:
    return ok(runhistory.query_runs(state, workspace_id(req), req.params["experiment"], req.body or {}))


# -- labeling jobs; v1 web services (the model management service on the regional host)


def put_labeling_job(state: State, req: Request) -> Response:
    return created(*labeling.put_labeling_job(state, workspace_id(req), req.params["name"], req.body or {}))


def get_labeling_job(state: State, req: Request) -> Response:
    return ok(labeling.get_labeling_job(state, workspace_id(req), req.params["name"]))


def list_labeling_jobs(state: State, req: Request) -> Response:
    return page(state, req, labeling.list_labeling_jobs(state, workspace_id(req)))


def pause_labeling_job(state: State, req: Request) -> Response:
    labeling.set_labeling_status(state, workspace_id(req), req.params["name"], "pause")
    return Response(200)


def resume_labeling_job(state: State, req: Request) -> Response:
    labeling.set_labeling_status(state, workspace_id(req), req.params["name"], "resume")
    return Response(200)


def list_services(state: State, req: Request) -> Response:
    return ok({"value": labeling.list_services(state, workspace_id(req))})


def delete_service(state: State, req: Request) -> Response:
    return Response(200 if labeling.delete_service(state, workspace_id(req), req.params["name"]) else 204)


# -- batch deployments


def put_batch_deployment(state: State, req: Request) -> Response:
    return upserted(state, req, endpoints.put_batch_deployment(state, workspace_id(req), req.params["endpoint"], req.params["name"], req.body or {}))


def get_batch_deployment(state: State, req: Request) -> Response:
    return ok(endpoints.get_batch_deployment(state, workspace_id(req), req.params["endpoint"], req.params["name"]))


def list_batch_deployments(state: State, req: Request) -> Response:
    return page(state, req, endpoints.list_batch_deployments(state, workspace_id(req), req.params["endpoint"]))
