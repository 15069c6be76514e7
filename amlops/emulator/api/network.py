"""Handlers for a workspace's private endpoint connections and private link resources."""

from __future__ import annotations

from amlops.emulator.api.common import page, workspace_id
from amlops.emulator.http import Request, Response, ok
from amlops.emulator.models import network, workspaces
from amlops.emulator.state import State


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
