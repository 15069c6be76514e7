"""Handlers for v1 run history: experiments and runs (data profiling runs among them)."""

from __future__ import annotations

from amlops.emulator.api.common import workspace_id
from amlops.emulator.http import Request, Response, ok
from amlops.emulator.models import runhistory
from amlops.emulator.state import State


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
