"""Handlers for Azure ML computes: instances, clusters, attached Kubernetes; power actions and idle shutdown."""

from __future__ import annotations

from amlops.emulator import lro
from amlops.emulator.api.common import accepted, deleting, fault_error, page, workspace_id
from amlops.emulator.http import Request, Response, ok
from amlops.emulator.models import computes, jobs
from amlops.emulator.models.common import public
from amlops.emulator.state import State


def put_compute(state: State, req: Request) -> Response:
    """201 with Azure-AsyncOperation only, for a new compute and over an existing cluster alike (compute PUT in
    compute_instance_stop_start.json; issue 18's cluster session: a PUT over an existing cluster, 201 Creating)."""
    body, op, _ = computes.create_compute(state, workspace_id(req), req.params["name"], req.body or {}, fault_error(req))
    return accepted(state, req, op, status=201, body=computes.as_accepted(body))


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
    return accepted(state, req, op)  # 202, Azure-AsyncOperation only (compute_instance_stop_start.json)


def start_compute(state: State, req: Request) -> Response:
    # 202, empty, Azure-AsyncOperation only, like stop (compute_instance_stop_start.json).
    return accepted(state, req, computes.power(state, workspace_id(req), req.params["name"], "start", fault_error(req)))


def stop_compute(state: State, req: Request) -> Response:
    op = computes.power(state, workspace_id(req), req.params["name"], "stop", fault_error(req))
    return accepted(state, req, op)


def restart_compute(state: State, req: Request) -> Response:
    # No recording of a restart here: 202 with Location, as the REST example (Compute/restart.json) answers.
    return deleting(state, req, computes.power(state, workspace_id(req), req.params["name"], "restart", fault_error(req)))


def update_idle_shutdown(state: State, req: Request) -> Response:
    computes.update_idle_shutdown(state, workspace_id(req), req.params["name"], req.body or {})
    return Response(200)


def list_nodes(state: State, req: Request) -> Response:
    return ok(computes.list_nodes(state, workspace_id(req), req.params["name"]))
