"""Flows from a work pool on two process workers, as a team runs them: a fleet stop, a training that
survives a preemption, and a move that suspends for approval and is resumed by `amlops approve`."""

from __future__ import annotations

import json
import re
import sys
import uuid
from typing import Any

from amlops.approvers import VARIABLE
from amlops.azure import computes, jobs, network, workspaces
from amlops.azure.manifest_blobs import BlobManifestStore
from amlops.errors import NotFound
from amlops.manifests import open_store
from amlops.models import ResourceId
from tests.conftest import AZURITE_KEY, TARGET_SUB, WS_ID, Env, demo_scenario
from tests.team.conftest import FINAL, Team

FLEET_SUB = "68686868-6868-6868-6868-686868686868"
FLEET_WS = ResourceId.parse(f"/subscriptions/{FLEET_SUB}/resourceGroups/fleet/providers/Microsoft.MachineLearningServices/workspaces/team-w")


def _instance(name: str, state: str = "Running") -> dict[str, Any]:
    return {"name": name, "state": state, "properties": {"computeType": "ComputeInstance", "properties": {"vmSize": "STANDARD_DS3_V2", "idleTimeBeforeShutdown": "PT60M"}}}


def test_stop_computes_runs_from_the_pool_on_a_worker(env: Env, deployed: Team) -> None:
    env.control.load({
        "subscriptions": [{"id": FLEET_SUB, "region": "eastus"}],
        "resource_groups": [{"id": f"/subscriptions/{FLEET_SUB}/resourceGroups/fleet", "location": "eastus"}],
        "workspaces": [{"id": str(FLEET_WS), "location": "eastus", "computes": [_instance("w-ann"), _instance("w-ben"), _instance("w-off", "Stopped")]}],
    })  # fmt: skip
    run = deployed.start_run("stop-computes", "weekdays-berlin-stop", {"selector": {"subscriptions": [FLEET_SUB]}})
    assert deployed.wait(run, FINAL) == "Completed", deployed.worker_logs()[-4000:]
    assert deployed.submitted_by(run), "a worker of the pool ran it"
    assert {c.name: c.state for c in computes.list_computes(env.clients, FLEET_WS)} == {"w-ann": "Stopped", "w-ben": "Stopped", "w-off": "Stopped"}


def test_train_with_retries_survives_a_preemption_on_a_worker(env: Env, azurite: str, deployed: Team) -> None:
    spec = demo_scenario()
    spec["workspaces"][0]["datastores"].append({"name": "checkpoints", "properties": {"datastoreType": "AzureBlob", "accountName": "devstoreaccount1", "containerName": f"c-{uuid.uuid4().hex[:10]}"}})
    env.control.load(spec)
    env.control.settings(storage_url=azurite, storage_key=AZURITE_KEY, job_queue_seconds=0.2)
    lineage = f"team-{uuid.uuid4().hex[:6]}"
    env.control.schedule_job_end(f"{lineage}-001", "preempt", after=1.6, partial=True)
    run = deployed.start_run("train-with-retries", "on-demand", {
        "workspace": WS_ID, "command": "python train.py", "environment": "azureml:forecast-env:1", "compute": "gpu-cluster",
        "checkpoint": {"datastore": "checkpoints", "path": "runs/team"}, "lineage": lineage, "budgets": {"backoff_seconds": 0},
        "watch_seconds": 0.2, "environment_variables": {"AMLOPS_STEPS_PER_SECOND": "20", "AMLOPS_CHECKPOINT_EVERY": "1", "AMLOPS_TOTAL_STEPS": "60"},
    })  # fmt: skip
    assert deployed.wait(run, FINAL) == "Completed", deployed.worker_logs()[-4000:]
    attempts = sorted(j.name for j in jobs.list_jobs(env.clients, ResourceId.parse(WS_ID), view="All") if j.tags.get("amlops.lineage") == lineage)
    assert attempts == [f"{lineage}-001", f"{lineage}-002"], "preempted once, resubmitted once"


def _started_by(deployed: Team, person: str, parameters: dict[str, Any]) -> str:
    """`prefect deployment run` as a person starts a move, saying who they are (what an open-source server knows of it)."""
    done = deployed.run(sys.executable, "-m", "prefect", "deployment", "run", "move-workspace/on-demand", "--tag", f"started-by:{person}", "--params", json.dumps(parameters))
    found = re.search(r"UUID: ([0-9a-f-]{36})", done.stdout)
    assert found, done.stdout
    return found.group(1)


def _refused(deployed: Team, *answer: str) -> str:
    """`amlops approve` with an answer the run would refuse: exit code 2, and why."""
    return deployed.amlops("approve", *answer, expect=2)


def _decisions(deployed: Team, run: str) -> dict[str, list[dict[str, Any]]]:
    """The run's decision tables (artifacts), by key."""
    found = deployed.call("POST", "/artifacts/filter", {"artifacts": {"flow_run_id": {"any_": [run]}, "type": {"any_": ["table"]}}, "limit": 20, "offset": 0})
    return {a["key"]: json.loads(a["data"]) if isinstance(a["data"], str) else a["data"] for a in found}


def test_a_move_suspends_twice_and_finishes_on_whichever_worker_is_free(env: Env, deployed: Team) -> None:
    """Suspended at the plan, resumed by `amlops approve`; suspended again at the private endpoints (after the
    move), resumed again; every resume may land on either worker, and the run finishes where it lands. Only the
    deployment's approvers may answer, and not the one who started it: their answers are refused with the reason
    (by `amlops approve` before sending, by the run itself when sent from the UI) and the run asks again."""
    env.load_demo()
    deployed.run(sys.executable, "-m", "prefect", "variable", "set", VARIABLE, json.dumps({"move-workspace/on-demand": ["alice", "bob"]}), "--overwrite")
    try:
        _approved_by_bob_after_refusals(env, deployed)
    finally:
        deployed.run(sys.executable, "-m", "prefect", "--no-prompt", "variable", "unset", VARIABLE)


def _approved_by_bob_after_refusals(env: Env, deployed: Team) -> None:
    run = _started_by(deployed, "alice", {"request": {"source": WS_ID, "target_subscription": TARGET_SUB, "target_resource_group": "ml-moved"}, "approvals": {"poll_seconds": 1}})
    assert deployed.wait(run, {"Suspended", *FINAL}) == "Suspended", deployed.worker_logs()[-4000:]
    assert "workspace_name" in deployed.waits_for(run), "the first question is the plan"
    assert env.control.writes() == [], "nothing is written before the plan is approved"
    first = deployed.submitted_by(run)
    assert len(first) == 1, first
    # The worker that started it goes away (a deploy, a reboot): the run must not care where it resumes.
    deployed.stop_worker(first[0])
    try:
        pending = deployed.amlops("pending")
        assert run in pending, pending
        plan = ("--reason", "CHG-42", "--workspace-name", "ml-prod-ws")
        assert "alice started this run and may not approve it" in _refused(deployed, run, "--approver", "alice", *plan)
        assert "eve is not on this deployment's list of approvers (alice, bob)" in _refused(deployed, run, "--approver", "eve", *plan)
        # The UI's Resume sends whatever it is given: the run, resumed on the other worker, refuses it and asks again.
        deployed.call("POST", f"/flow_runs/{run}/resume", {"run_input": {"approve": True, "approver": "eve", "reason": "I can", "workspace_name": "ml-prod-ws"}})
        assert deployed.wait(run, {"Running", *FINAL}) == "Running"
        assert deployed.wait(run, {"Suspended", *FINAL}) == "Suspended", deployed.worker_logs()[-4000:]
        asked_again = deployed.amlops("pending")
        assert "Your last answer was refused:** eve is not on this deployment's list of approvers (alice, bob)" in asked_again, asked_again
        assert "workspace_name" in deployed.waits_for(run) and env.control.writes() == [], "asked the plan again, nothing written"
        deployed.amlops("approve", run, "--approver", "bob", *plan)
        # Resumed on the other worker: it runs from the top, moves the workspace, then asks about the connections.
        assert deployed.wait(run, {"Running", *FINAL}) == "Running"
        assert deployed.wait(run, {"Suspended", *FINAL}) == "Suspended", deployed.worker_logs()[-4000:]
    finally:
        deployed.start_worker(first[0])
    other = ({"w1", "w2"} - set(first)).pop()
    assert deployed.submitted_by(run)[1:] == [other, other], deployed.worker_logs()[-4000:]
    connections = deployed.waits_for(run)
    assert "workspace_name" not in connections and len(connections) == 2, f"the second question is the connections: {connections}"
    moved = ResourceId.parse(WS_ID.replace(WS_ID.split("/")[2], TARGET_SUB).replace("/ml-prod/", "/ml-moved/"))
    assert workspaces.get_workspace(env.clients, moved).name == "ml-prod-ws", "moved before the second question"
    pending = deployed.amlops("pending")
    assert all(name in pending for name in connections), pending
    decide = [arg for name in connections for arg in ("--decide", f"{name}=approve")]
    assert "Alice started this run and may not approve it" in _refused(deployed, run, "--approver", "Alice", "--reason", "mine", *decide)
    deployed.amlops("approve", run, "--approver", "bob", "--reason", "CHG-42", *decide)
    assert deployed.wait(run, FINAL) == "Completed", deployed.worker_logs()[-4000:]
    assert len(deployed.submitted_by(run)) == 4, "started, and resumed three times, each time on a worker of the pool"
    tables = _decisions(deployed, run)
    assert [(r["verdict"], r["decided_by"], r["started_by"]) for r in tables["plan-decision"]] == [("approve", "bob", "alice")], tables
    assert {(r["decided_by"], r["started_by"]) for r in tables["private-endpoint-decisions"]} == {("bob", "alice")}, tables

    # Judged from the emulator: moved once though the flow ran from the top four times, both connections approved.
    moves = [r for r in env.control.requests() if r["method"] == "POST" and r["path"].lower().endswith("/moveresources")]
    assert len(moves) == 1, moves
    assert [c.status for c in network.list_connections(env.clients, moved)].count("Approved") == 2
    try:
        workspaces.get_workspace(env.clients, ResourceId.parse(WS_ID))
        raise AssertionError("the workspace is still in its source resource group")
    except NotFound:
        pass
    shared = open_store(deployed.env)  # the manifest is in the team's container, not on either worker's disk
    assert isinstance(shared, BlobManifestStore)
    manifests = [shared.load(b.name.split("/")[1]) for b in shared.container.list_blobs(name_starts_with="moves/")]
    assert any(m and m.request.source == WS_ID and m.status == "completed" for m in manifests), manifests
