"""The training script a submitted job runs, simulated: it trains at a fixed pace and writes a
checkpoint to blob storage (Azurite) every so often, the way a real script would.

It reads the job's environment variables:
  AMLOPS_CHECKPOINT_DIR    azureml://datastores/<name>/paths/<path>/ (no checkpoints without it)
  AMLOPS_CHECKPOINT_EVERY  seconds of training between checkpoints (default 10)
  AMLOPS_RESUME_STEP       the step it resumes from (default 0)
  AMLOPS_TOTAL_STEPS       the step at which training is done (default: job_run_seconds of work)
  AMLOPS_STEPS_PER_SECOND  training pace (default 1)
Checkpoints are folders step-<N>/ holding weights.bin and, written last, _COMPLETE, whose content is
the UTC time the checkpoint was complete.
"""

from __future__ import annotations

import fnmatch
import re
from typing import Any

from amlops.emulator.errors import bad_request
from amlops.emulator.state import State

_URI = re.compile(r"^azureml://datastores/(?P<ds>[^/]+)/paths/(?P<path>.*)$")


def plan(state: State, workspace_id: str, job_name: str, env: dict[str, str]) -> dict[str, Any]:
    """What the script will do: read once, when the job is submitted."""
    pace = float(env.get("AMLOPS_STEPS_PER_SECOND", "1"))
    resume = int(env.get("AMLOPS_RESUME_STEP", "0"))
    total = int(env.get("AMLOPS_TOTAL_STEPS", str(resume + int(state.settings.job_run_seconds * pace))))
    run: dict[str, Any] = {"pace": pace, "resume": resume, "total": total, "every": float(env.get("AMLOPS_CHECKPOINT_EVERY", "10")), "written": resume, "target": None}
    uri = env.get("AMLOPS_CHECKPOINT_DIR")
    if uri:
        m = _URI.match(uri)
        if not m:
            raise bad_request(f"AMLOPS_CHECKPOINT_DIR '{uri}' is not azureml://datastores/<name>/paths/<path>/.", "UserError")
        datastore = state.store.get(f"{workspace_id}/datastores/{m.group('ds')}")
        if datastore is None:
            raise bad_request(f"Datastore '{m.group('ds')}' of AMLOPS_CHECKPOINT_DIR does not exist in the workspace.", "UserError")
        run["target"] = (datastore["properties"].get("containerName"), m.group("path").strip("/"))
    for schedule in state.job_schedules:
        if fnmatch.fnmatchcase(job_name, schedule["match"]) and schedule.get("times", 1) > 0:
            schedule["times"] = schedule.get("times", 1) - 1
            run["scheduled_end"] = schedule
            break
    return run


def run_seconds(run: dict[str, Any]) -> float:
    """How long the script needs to reach its total steps."""
    return max(0.0, (run["total"] - run["resume"]) / run["pace"])


def progress(state: State, run: dict[str, Any], started: float, running_for: float, partial: bool = False) -> None:
    """Write every checkpoint due after ``running_for`` seconds of training (begun at ``started`` on the
    emulator's clock); a partial one at the end if asked."""
    target = run.get("target")
    if not target or not state.settings.storage_url:
        return
    container, path = target
    every_steps = max(1, int(run["every"] * run["pace"]))
    reached = min(run["total"], run["resume"] + int(running_for * run["pace"]))
    step = run["written"] + every_steps
    while step <= reached:
        _write(state, container, f"{path}/step-{step:08d}/weights.bin", f"weights at step {step}".encode())
        done_at = started + (step - run["resume"]) / run["pace"]
        _write(state, container, f"{path}/step-{step:08d}/_COMPLETE", state.clock.iso_at(done_at).encode())
        run["written"] = step
        step += every_steps
    if partial and reached > run["written"]:
        _write(state, container, f"{path}/step-{step:08d}/weights.bin", b"half-written")


def _write(state: State, container: str, name: str, data: bytes) -> None:
    from azure.storage.blob import ContainerClient

    url = state.settings.storage_url.rstrip("/")
    client = ContainerClient(url, container, credential={"account_name": url.rsplit("/", 1)[-1], "account_key": state.settings.storage_key})
    if not client.exists():
        client.create_container()
    client.upload_blob(name, data, overwrite=True)
