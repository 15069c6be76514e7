"""Handlers for Azure ML datastores and their secrets."""

from __future__ import annotations

from amlops.emulator.api.common import created, page, workspace_id
from amlops.emulator.http import Request, Response, ok
from amlops.emulator.models import datastores
from amlops.emulator.state import State


def put_datastore(state: State, req: Request) -> Response:
    """Not a long-running operation: 201 with the datastore and a Location naming it (datastore_blob.json), 200 on update."""
    body, is_new = datastores.put_datastore(state, workspace_id(req), req.params["name"], req.body or {})
    response = created(body, is_new)
    if is_new:
        response.headers["Location"] = req.url(body["id"], **req.query)
    return response


def get_datastore(state: State, req: Request) -> Response:
    return ok(datastores.get_datastore(state, workspace_id(req), req.params["name"]))


def list_datastores(state: State, req: Request) -> Response:
    flag = req.query.get("isDefault")
    is_default = None if flag is None else flag.lower() == "true"
    return page(state, req, datastores.list_datastores(state, workspace_id(req), is_default))


def delete_datastore(state: State, req: Request) -> Response:
    return Response(200 if datastores.delete_datastore(state, workspace_id(req), req.params["name"]) else 204)


def list_secrets(state: State, req: Request) -> Response:
    return ok(datastores.list_secrets(state, workspace_id(req), req.params["name"], req.body if isinstance(req.body, dict) else None))
