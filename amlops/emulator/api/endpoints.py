"""Handlers for online and batch endpoints, their deployments, and an online endpoint's request metrics."""

from __future__ import annotations

from amlops.emulator.api.common import accepted, deleting, fault_error, page, upserted, workspace_id
from amlops.emulator.errors import bad_request
from amlops.emulator.http import Request, Response, ok
from amlops.emulator.models import endpoints, metrics
from amlops.emulator.state import State

# An endpoint's PUT and DELETE give a 30-minute operation timeout (online_endpoint_e2e.json).
TIMEOUT = "PT30M"


def put_endpoint(state: State, req: Request) -> Response:
    """201 (200 for an update) with Azure-AsyncOperation, Location naming the endpoint itself, and the operation
    timeout (online_endpoint_e2e.json); the body says Creating."""
    body, op, is_new = endpoints.put_endpoint(state, workspace_id(req), req.params["kind"], req.params["name"], req.body or {}, fault_error(req))
    return accepted(state, req, op, status=201 if is_new else 200, body=body, location=body["id"], timeout=TIMEOUT)


def get_endpoint(state: State, req: Request) -> Response:
    return ok(endpoints.get_endpoint(state, workspace_id(req), req.params["kind"], req.params["name"]))


def list_endpoints(state: State, req: Request) -> Response:
    return page(state, req, endpoints.list_endpoints(state, workspace_id(req), req.params["kind"]))


def delete_endpoint(state: State, req: Request) -> Response:
    """202 with both Azure-AsyncOperation and Location (the operation's result) and the timeout (online_endpoint_e2e.json)."""
    op = endpoints.delete_endpoint(state, workspace_id(req), req.params["kind"], req.params["name"], fault_error(req))
    return accepted(state, req, op, location_header=True, timeout=TIMEOUT)


def endpoint_token(state: State, req: Request) -> Response:
    return ok(endpoints.token(state, workspace_id(req), req.params["name"]))


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


def put_batch_deployment(state: State, req: Request) -> Response:
    return upserted(state, req, endpoints.put_batch_deployment(state, workspace_id(req), req.params["endpoint"], req.params["name"], req.body or {}))


def get_batch_deployment(state: State, req: Request) -> Response:
    return ok(endpoints.get_batch_deployment(state, workspace_id(req), req.params["endpoint"], req.params["name"]))


def list_batch_deployments(state: State, req: Request) -> Response:
    return page(state, req, endpoints.list_batch_deployments(state, workspace_id(req), req.params["endpoint"]))
