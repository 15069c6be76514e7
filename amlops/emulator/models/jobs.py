"""Jobs and their progress through Azure ML's states on the emulator's clock.

A job queues, runs, then completes, unless an end is forced through the control API
(complete, fail, preempt, node failure) or requested by a person (cancel).
"""

from __future__ import annotations

from typing import Any

from amlops.emulator import ids, lro
from amlops.emulator.errors import ArmError, bad_request, conflict
from amlops.emulator.models import training
from amlops.emulator.models.common import WORKSPACE_TYPE, arm_body, ensure_writable, get_child, list_children, writable_child
from amlops.emulator.state import Operation, State

TERMINAL = {"Completed", "Failed", "Canceled", "NotResponding"}
PREPARING_SECONDS = 5.0  # recorded: still Preparing 3 s after submission (command_job_serverless.json); how much longer, unrecorded
ACTIVE = {"NotStarted", "Queued", "Preparing", "Starting", "Provisioning", "Running", "Finalizing", "CancelRequested"}
# How a forced end shows: (status, the kind of error run history reports for it, a key of ERRORS)
ENDS = {
    "complete": ("Completed", None),
    "fail": ("Failed", "fail"),
    "preempt": ("Failed", "preempt"),
    "node_failure": ("Failed", "node_failure"),
    "infrastructure": ("Failed", "infrastructure"),
}
# A failed job's error as Azure ML reports it: run history's RunDetails.error (an ErrorResponse around a RootError:
# code, severity, message, messageFormat, messageParameters, referenceCode, detailsUri, target, details, innerError,
# debugInfo, additionalInfo; azure-ai-ml reads it in _job_ops_helper.stream_logs_until_completion). The code is
# coarse and misleading: a low-priority preemption reports "UserError", its message says what happened, as seen
# in MicrosoftDocs/azure-docs#66288 and microsoft/MLOpsPython#346. The node-failure and service wordings are
# modelled on the same "AzureMLCompute job failed.\n<Reason>: ..." form (the compute's own wording for a dead node,
# "encountered an unusable node", MicrosoftDocs/azure-docs#85756).
ERRORS = {
    "fail": ("UserError", "AzureMLCompute job failed.\nJobFailed: Submitted script failed with a non-zero exit code; see the driver log file for details."),
    "preempt": ("UserError", "AzureMLCompute job failed.\nPreemptionError: Nodes of this job got pre-empted. Check if the run has failed or restarted. Reason: Received pre-emption warning signal."),
    "node_failure": ("SystemError", "AzureMLCompute job failed.\nUnusableNodeError: A node of this job encountered an unusable node state and was removed from the cluster."),
    "infrastructure": ("SystemError", "AzureMLCompute job failed.\nInternalServerError: The AzureMLCompute service failed to run the job. Please retry."),
}


def job_id(workspace_id: str, name: str) -> str:
    return f"{workspace_id}/jobs/{name}"


def put_job(state: State, workspace_id: str, name: str, body: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    workspace, jid = writable_child(state, workspace_id, "jobs", name)
    props = dict((body or {}).get("properties") or {})
    if not props.get("jobType"):
        raise bad_request("A job needs properties.jobType.", "InvalidJobSpec")
    previous = state.store.get(jid)
    if previous is not None:
        # Azure lets a submitted job change only its description, tags and display name.
        changed = {k for k in ("command", "computeId", "environmentId") if props.get(k) != previous["properties"].get(k)}
        if changed:
            raise conflict(f"Job '{name}' already exists; {sorted(changed)} cannot change after submission.", "UserError")
        previous["properties"].update({k: props[k] for k in ("description", "tags", "displayName") if k in props})
        return refresh(state, previous), False
    compute = props.get("computeId")
    if compute and compute.startswith("/") and state.store.get(compute) is None:
        raise bad_request(f"Compute '{compute}' of job '{name}' does not exist in the workspace.", "ComputeNotFound")
    props["status"] = "NotStarted"
    props.setdefault("properties", {})
    props.setdefault("tags", {})
    props.setdefault("experimentName", "Default")
    props.setdefault("displayName", name)
    props.setdefault("isArchived", False)
    script = training.plan(state, workspace["id"], name, props.get("environmentVariables") or {})
    job = arm_body(state, jid, f"{WORKSPACE_TYPE}/jobs", props, previous=None)
    state.store.put(job)
    state.job_runs[ids.key(jid)] = {"submitted": state.clock.now(), "forced": None, "script": script}
    return refresh(state, job), True


def _end(state: State, job: dict[str, Any], run: dict[str, Any], ended_at: float, outcome: tuple[str, str | None]) -> None:
    run["forced"] = outcome
    run["ended"] = ended_at
    job["properties"]["properties"]["endTimeUtc"] = state.clock.iso_at(ended_at)


def refresh(state: State, job: dict[str, Any]) -> dict[str, Any]:
    """Bring a job's status up to the emulator's clock; its script writes the checkpoints that are due."""
    run = state.job_runs.get(ids.key(job["id"]))
    props = job["properties"]
    if run is None or props["status"] in TERMINAL:
        return job
    if not run["forced"]:
        queue = state.settings.job_queue_seconds_by_compute.get(ids.name_of(props.get("computeId") or ""), state.settings.job_queue_seconds)
        started = run["submitted"] + queue
        running_for = state.clock.now() - started
        runtime = training.run_seconds(run["script"])
        scheduled = run["script"].get("scheduled_end")
        if running_for < 0:
            # A submitted job prepares before it waits for nodes: Preparing 3 s after submission in
            # command_job_serverless.json; Queued once it waits longer (the compute's queue).
            props["status"] = "Preparing" if state.clock.now() - run["submitted"] < PREPARING_SECONDS else "Queued"
            return job
        props["properties"]["startTimeUtc"] = state.clock.iso_at(started)
        if scheduled and running_for >= scheduled["after"] and scheduled["after"] < runtime:
            training.progress(state, run["script"], started, scheduled["after"], partial=bool(scheduled.get("partial")))
            _end(state, job, run, started + scheduled["after"], ENDS[scheduled["end"]])
        elif running_for < runtime:
            training.progress(state, run["script"], started, running_for)
            props["status"] = "Running"
            return job
        else:
            training.progress(state, run["script"], started, runtime)
            _end(state, job, run, started + runtime, ENDS["complete"])
    status, _ = run["forced"]
    props["status"] = status
    return job


def run_details(state: State, job: dict[str, Any]) -> dict[str, Any]:
    """Run history's RunDetails of a job (Runs_GetDetails in the runhistory REST API azure-ai-ml calls)."""
    refresh(state, job)
    run = state.job_runs.get(ids.key(job["id"])) or {}
    props = job["properties"]
    details: dict[str, Any] = {
        "runId": job["name"],
        "status": props["status"],
        "target": ids.name_of(props.get("computeId") or "") or None,
        "startTimeUtc": props["properties"].get("startTimeUtc"),
        "endTimeUtc": props["properties"].get("endTimeUtc"),
        "properties": dict(props.get("properties") or {}),
        "error": None,
    }
    kind = (run.get("forced") or (None, None))[1]
    if props["status"] == "Failed" and kind in ERRORS:
        code, message = ERRORS[kind]
        root: dict[str, Any] = {"code": code, "severity": None, "message": message, "messageFormat": None, "messageParameters": {}, "referenceCode": None,
                "detailsUri": None, "target": None, "details": [], "innerError": None, "debugInfo": None, "additionalInfo": None}
        details["error"] = {"error": root, "correlation": None, "environment": None, "location": None, "time": details["endTimeUtc"], "componentName": "AzureMLCompute"}
    return details


def tick(state: State) -> None:
    """Move every job that has not ended along its timeline: scripts write checkpoints when they are due,
    not when someone happens to look."""
    for key, run in list(state.job_runs.items()):
        if run.get("ended") is None:
            job = state.store.get(key)
            if job is not None:
                refresh(state, job)


def get_job(state: State, workspace_id: str, name: str) -> dict[str, Any]:
    return refresh(state, get_child(state, workspace_id, "jobs", name, "Job"))


def list_jobs(state: State, workspace_id: str, view: str = "ActiveOnly") -> list[dict[str, Any]]:
    jobs = [refresh(state, j) for j in list_children(state, workspace_id, "jobs")]
    if view == "ActiveOnly":
        return [j for j in jobs if not j["properties"].get("isArchived")]
    if view == "ArchivedOnly":
        return [j for j in jobs if j["properties"].get("isArchived")]
    return jobs


def cancel_job(state: State, workspace_id: str, name: str) -> Operation:
    job = get_job(state, workspace_id, name)
    ensure_writable(state, job["id"])
    run = state.job_runs[ids.key(job["id"])]

    def complete() -> None:
        if job["properties"]["status"] not in TERMINAL:
            _end(state, job, run, state.clock.now(), ("Canceled", None))
            refresh(state, job)

    if job["properties"]["status"] not in TERMINAL:
        run["forced"] = ("CancelRequested", None)
    return lro.start(state, "job.cancel", ids.subscription_of(job["id"]) or "", complete)


def delete_job(state: State, workspace_id: str, name: str) -> Operation:
    job = get_job(state, workspace_id, name)
    ensure_writable(state, job["id"])
    if job["properties"]["status"] not in TERMINAL:
        raise conflict(f"Job '{name}' is {job['properties']['status']}; cancel it before deleting it.", "UserError")

    def complete() -> None:
        state.store.delete(job["id"])
        state.job_runs.pop(ids.key(job["id"]), None)

    return lro.start(state, "job.delete", ids.subscription_of(job["id"]) or "", complete)


def force_end(state: State, job_resource_id: str, end: str) -> dict[str, Any]:
    """The control API's job actions: end a job as Azure would after that event."""
    job = state.store.get(job_resource_id)
    if job is None or ids.key(job_resource_id) not in state.job_runs:
        raise ArmError(404, "ResourceNotFound", f"Job '{job_resource_id}' was not found.")
    refresh(state, job)
    if job["properties"]["status"] in TERMINAL:
        raise conflict(f"Job '{job['name']}' already ended {job['properties']['status']}.")
    if end == "advance":
        run = state.job_runs[ids.key(job["id"])]
        run["submitted"] = min(run["submitted"], state.clock.now() - state.settings.job_queue_seconds)
    elif end in ENDS:
        run = state.job_runs[ids.key(job["id"])]
        started = run["submitted"] + state.settings.job_queue_seconds
        training.progress(state, run["script"], started, max(0.0, state.clock.now() - started))
        _end(state, job, run, state.clock.now(), ENDS[end])
    else:
        raise bad_request(f"Unknown job action '{end}'; use advance or one of {sorted(ENDS)}.")
    return refresh(state, job)


def active_on(state: State, compute_resource_id: str) -> list[dict[str, Any]]:
    """Jobs not yet ended whose compute is the given one."""
    workspace_id = compute_resource_id.rsplit("/computes/", 1)[0]
    name = ids.name_of(compute_resource_id).lower()
    found = []
    for job in state.store.children(workspace_id, "jobs"):
        target = (job["properties"].get("computeId") or "").rstrip("/")
        if ids.name_of(target).lower() == name and refresh(state, job)["properties"]["status"] in ACTIVE:
            found.append(job)
    return found
