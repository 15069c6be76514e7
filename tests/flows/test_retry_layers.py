"""One retry layer owns each decision (amlops/azure/retry.py), counted through the whole stack, flow to HTTP, from
the emulator's request log: a read that keeps failing is sent ATTEMPTS times, not ATTEMPTS x tenacity x Prefect;
an action whose answer was lost is looked up before the step sends it again, once."""

from __future__ import annotations

import uuid

from amlops.azure import computes, retry
from amlops.fleet import Selector
from amlops.models import ResourceId
from amlops.training import Budgets, CheckpointLocation
from flows.compute_power import stop_computes
from flows.train_with_retries import train_with_retries
from tests.conftest import WS_ID, Env
from tests.flows.conftest import SCRIPT


def test_a_persistently_failing_read_is_sent_attempts_times_through_flow_task_and_pipeline(flows_env: Env, ws: ResourceId) -> None:
    flows_env.load_demo()
    flows_env.control.fault(r"/workspaces/ml-prod-ws/computes$", "503", method="GET", retry_after=0)
    state = stop_computes(selector=Selector(workspaces=[WS_ID]), return_state=True)
    assert state.is_failed()
    sent = [r for r in flows_env.control.requests() if r["method"] == "GET" and r["path"].endswith("/workspaces/ml-prod-ws/computes")]
    assert len(sent) == retry.ATTEMPTS, f"{len(sent)} requests: one layer retries, {retry.ATTEMPTS} attempts in all"


def test_a_submission_whose_answer_was_lost_is_looked_up_then_sent_once_more(training: Env) -> None:
    lineage = f"lost-{uuid.uuid4().hex[:6]}"
    first = f"/jobs/{lineage}-001"
    training.control.fault(first + "$", "503", method="PUT", count=1)
    state = train_with_retries(
        workspace=WS_ID, command="python train.py", environment="azureml:forecast-env:1", compute="gpu-cluster",
        checkpoint=CheckpointLocation(datastore="checkpoints", path="runs/lost"), lineage=lineage, budgets=Budgets(backoff_seconds=0),
        watch_seconds=0.1, environment_variables=SCRIPT, return_state=True,
    )  # fmt: skip
    assert state.is_completed(), state.result(raise_on_failure=False)
    seen = [(r["method"], r["status"]) for r in training.control.requests() if r["path"].endswith(first) and r["method"] in ("GET", "PUT")]
    # the first PUT met the 503 and was not resent by the HTTP layer; the step ran again, read (404: Azure had not
    # acted), and submitted once more
    assert seen[:4] == [("GET", 404), ("PUT", 503), ("GET", 404), ("PUT", 201)], seen
    assert sum(1 for m, s in seen if m == "PUT") == 2


def test_a_stop_whose_answer_was_lost_after_azure_acted_is_followed_not_resent(flows_env: Env) -> None:
    """Azure stopped the instance but its answer never came back (the connection dropped after the request was
    processed): the fleet looks, finds it Stopping, follows it to Stopped, and never sends the stop again."""
    flows_env.load_demo()
    flows_env.control.settings(lro={"compute.stop": {"mode": "seconds", "seconds": 1.0}})
    flows_env.control.fault(r"/computes/alice-ci/stop$", "drop_after", method="POST", count=1)
    report = stop_computes(selector=Selector(workspaces=[WS_ID], names=["alice-ci"]))
    assert [(o.compute, o.result) for o in report.outcomes] == [("alice-ci", "stopped")], report.outcomes
    stops = [r for r in flows_env.control.requests() if r["path"].endswith("/computes/alice-ci/stop")]
    assert len(stops) == 1 and stops[0]["fault"] == "drop_after"
    assert computes.get_compute(flows_env.clients, ResourceId.parse(WS_ID), "alice-ci").state == "Stopped"
