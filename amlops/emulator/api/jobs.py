"""Handlers for Azure ML jobs and their run details (Azure ML's regional data plane, served on the emulator's host)."""

from __future__ import annotations

from amlops.emulator.api.common import created, deleting, page, workspace_id
from amlops.emulator.http import Request, Response, ok
from amlops.emulator.models import jobs
from amlops.emulator.models.common import public
from amlops.emulator.state import State


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


def run_details(state: State, req: Request) -> Response:
    return ok(jobs.run_details(state, jobs.get_job(state, workspace_id(req), req.params["run"])))
