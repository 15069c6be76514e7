"""Handlers for Azure ML jobs and their run details (Azure ML's regional data plane, served on the emulator's host)."""

from __future__ import annotations

from amlops.emulator.api.common import created, deleting, page, workspace_id
from amlops.emulator.http import Request, Response, ok
from amlops.emulator.models import jobs
from amlops.emulator.models.common import public
from amlops.emulator.state import State


def put_job(state: State, req: Request) -> Response:
    """A new job: 201 with a Location naming the job and status Starting (command_job_serverless.json); its later
    GETs follow the job's timeline. An update of a submitted job: 200."""
    body, is_new = jobs.put_job(state, workspace_id(req), req.params["name"], req.body or {})
    if not is_new:
        return created(body, False)
    view = public(body)
    view["properties"]["status"] = "Starting"
    response = created(view, True)
    response.headers["Location"] = req.url(body["id"], **req.query)
    return response


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
