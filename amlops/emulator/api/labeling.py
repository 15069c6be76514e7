"""Handlers for labeling jobs and v1 web services (the model management service on the regional host)."""

from __future__ import annotations

from amlops.emulator.api.common import created, page, workspace_id
from amlops.emulator.http import Request, Response, ok
from amlops.emulator.models import labeling
from amlops.emulator.state import State


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
