"""Chaos trials of every flow but the move (tests/chaos.py): Azure answering 429, 503 or dropping the connection on
a share of the requests on every route, the fleet also SIGKILLed mid-run. Each trial is judged from the emulator,
never from amlops' own report alone, and says whether the run (the first after the last kill) ended 0.

Shared by the suite (tests/flows/test_flow_chaos.py: a few seeded trials) and the benchmark (bench/flow_chaos.py:
at least 20 a flow and rate, fresh seeds).
"""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from amlops.azure import computes, jobs
from amlops.azure.clients import Clients
from amlops.emulator.control_client import EmulatorControl
from amlops.fleet import Selector
from amlops.models import ResourceId
from tests import chaos
from tests.warm_cli import ROOT

SUB = "78787878-7878-7878-7878-787878787878"
RG = f"/subscriptions/{SUB}/resourceGroups/fleet-chaos"
FLEET = [ResourceId.parse(f"{RG}/providers/Microsoft.MachineLearningServices/workspaces/team-{x}") for x in ("a", "b")]
SNOOZED = "a-snoozed"
FLEET_RUN = (
    "import sys\nfrom amlops.fleet import Selector\nfrom flows.compute_power import start_computes, stop_computes\n"
    "report = (stop_computes if sys.argv[1] == 'stop' else start_computes)(selector=Selector(workspaces=sys.argv[2:]))\n"
    "sys.exit(1 if report.counts.get('failed') else 0)\n"
)


@dataclass
class Run:
    """One trial of one flow: what happened, and how it was judged."""

    flow: str
    rate: float
    seed: int
    exits: list[int] = field(default_factory=list)  # every run's exit, -9 for a SIGKILL
    end: str = ""  # "consistent" or what is wrong
    seconds: float = 0.0  # the judged run's wall time

    @property
    def consistent(self) -> bool:
        return self.end == "consistent"

    @property
    def finished_in_one_run(self) -> bool:
        killed = [i for i, code in enumerate(self.exits) if code == -signal.SIGKILL]
        after = self.exits[killed[-1] + 1 :] if killed else self.exits
        return bool(after) and after[0] == 0

    def line(self) -> str:
        return f"{self.flow} {self.rate:.0%} seed {self.seed}: exits {self.exits} -> {self.end}"


def inject(control: EmulatorControl, rate: float) -> None:
    for rule in chaos.faults(rate):
        control.fault(**rule)


# -- the fleet: stop-computes / start-computes, killed once at a random moment while its requests are in flight


def _instance(name: str, state: str, tags: dict[str, str] | None = None) -> dict[str, Any]:
    return {"name": name, "state": state, "tags": tags or {}, "properties": {"computeType": "ComputeInstance", "properties": {"vmSize": "STANDARD_DS3_V2"}}}


def fleet_scenario(action: str) -> dict[str, Any]:
    state = "Running" if action == "stop" else "Stopped"
    return {
        "subscriptions": [{"id": SUB, "region": "eastus"}],
        "resource_groups": [{"id": RG, "location": "eastus"}],
        "workspaces": [
            {"id": str(FLEET[0]), "location": "eastus", "computes": [_instance(f"a-{i}", state) for i in range(5)] + [_instance(SNOOZED, state, {"amlops-keep-alive": "2099-01-01T00:00:00Z"})]},
            {"id": str(FLEET[1]), "location": "eastus", "computes": [_instance(f"b-{i}", state) for i in range(5)]},
        ],
    }  # fmt: skip


def _fleet_states(c: Clients) -> dict[str, str | None]:
    return {x.name: x.state for ws in FLEET for x in computes.list_computes(c, ws)}


def fleet_trial(control: EmulatorControl, c: Clients, env: dict[str, str], action: str, rate: float, seed: int, kill: bool = True) -> Run:
    """One run (a process of its own) killed at a random moment after its first start/stop (if ``kill``), then
    one more run to the end (in this process). A run ends 0 when no instance's outcome is failed."""
    rng = random.Random(seed)
    run = Run(f"{action}-computes", rate, seed)
    control.reset()
    control.load(fleet_scenario(action))
    control.settings(lro={f"compute.{action}": {"mode": "seconds", "seconds": 1.0}})  # takes time, as on Azure
    inject(control, rate)
    argv = [sys.executable, "-c", FLEET_RUN, action, *map(str, FLEET)]
    if kill:
        mark = control.mark()
        proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 120
        while not any(w["path"].endswith("/" + action) for w in control.writes(mark)) and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(rng.uniform(0, 1.0))
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
        run.exits.append(proc.wait(timeout=120))
    from flows.compute_power import start_computes, stop_computes  # the next run: in this process, which has Prefect's server

    started = time.monotonic()
    report = (stop_computes if action == "stop" else start_computes)(selector=Selector(workspaces=[str(w) for w in FLEET]))
    run.exits.append(1 if report.counts.get("failed") else 0)
    run.seconds = time.monotonic() - started
    control.clear_faults()
    control.advance(2)  # Azure finishes the operations it accepted
    states = _fleet_states(c)
    want = "Stopped" if action == "stop" else "Running"
    snoozed_want = "Running" if action == "stop" else want  # the keep-alive tag holds off stops only
    wrong = {n: s for n, s in states.items() if s != (snoozed_want if n == SNOOZED else want)}
    run.end = "consistent" if not wrong else f"inconsistent: {wrong}"
    return run


# -- training: submission, watching and checkpoints under faults, one preemption on the way


def training_trial(control: EmulatorControl, c: Clients, workspace: ResourceId, rate: float, seed: int) -> Run:
    """train-with-retries in this process (a loaded training scenario, Azurite running): attempt 1 preempted,
    attempt 2 resumed from its checkpoint and completed; never two attempts of one number, never two live."""
    from amlops.training import Budgets, CheckpointLocation
    from flows.train_with_retries import train_with_retries

    run = Run("train-with-retries", rate, seed)
    lineage = f"chaos-{seed}-{uuid.uuid4().hex[:4]}"
    control.schedule_job_end(f"{lineage}-001", "preempt", after=1.6, partial=True)
    inject(control, rate)
    started = time.monotonic()
    state = train_with_retries(
        workspace=str(workspace), command="python train.py", environment="azureml:forecast-env:1", compute="gpu-cluster",
        checkpoint=CheckpointLocation(datastore="checkpoints", path=f"runs/{lineage}"), lineage=lineage, budgets=Budgets(backoff_seconds=0),
        watch_seconds=0.1, environment_variables=TRAINING_SCRIPT, return_state=True,
    )  # fmt: skip
    run.seconds = time.monotonic() - started
    run.exits.append(0 if state.is_completed() else 1)
    control.clear_faults()
    report = state.result(raise_on_failure=False)
    attempts = sorted((j for j in jobs.list_jobs(c, workspace, view="All") if j.tags.get("amlops.lineage") == lineage), key=lambda j: j.name)
    submits = [r for r in control.requests() if r["method"] == "PUT" and f"/jobs/{lineage}-" in r["path"] and r["status"] in (200, 201)]
    problems = []
    if [j.name for j in attempts] != [f"{lineage}-001", f"{lineage}-002"]:
        problems.append(f"attempts {[j.name for j in attempts]}")
    if [j.status for j in attempts] != ["Failed", "Completed"]:
        problems.append(f"statuses {[j.status for j in attempts]}")
    if len({r["path"] for r in submits}) != len(attempts):
        problems.append(f"submissions {[r['path'].rsplit('/', 1)[-1] for r in submits]}")
    ends = [] if isinstance(report, BaseException) else [a.end for a in report.attempts]
    if state.is_completed() and ends != ["preempted", "completed"]:
        problems.append(f"report {ends}")
    run.end = "consistent" if not problems else "inconsistent: " + "; ".join(problems)
    return run


# 20 steps a second, a checkpoint every second, 60 steps: 3 s of training.
TRAINING_SCRIPT = {"AMLOPS_STEPS_PER_SECOND": "20", "AMLOPS_CHECKPOINT_EVERY": "1", "AMLOPS_TOTAL_STEPS": "60"}


# -- snapshot: reads only; under faults the file must be what an undisturbed snapshot writes


def _snapshot(workspace: str, out: Path, target: tuple[str, str]) -> int:
    from app.cli import main

    return main(["snapshot", "--workspace", workspace, "--out", str(out), "--target-subscription", target[0], "--target-resource-group", target[1]])


def _without_time(path: Path) -> Any:
    spec = yaml.safe_load(path.read_text())
    spec.get("snapshot", {}).pop("taken_at", None)
    return spec


def snapshot_trial(control: EmulatorControl, workspace: str, target: tuple[str, str], rate: float, seed: int, workdir: Path, baseline: Path) -> Run:
    """`amlops snapshot` (in this process, its environment pointing at the emulator) against an undisturbed one."""
    run = Run("snapshot", rate, seed)
    out = workdir / f"snapshot-{rate:.2f}-{seed}.yaml"
    inject(control, rate)
    started = time.monotonic()
    run.exits.append(_snapshot(workspace, out, target))
    run.seconds = time.monotonic() - started
    control.clear_faults()
    same = run.exits[-1] == 0 and _without_time(out) == _without_time(baseline)
    run.end = "consistent" if same else "inconsistent: the file differs from the undisturbed snapshot" if run.exits[-1] == 0 else "no file"
    return run


def snapshot_baseline(workspace: str, target: tuple[str, str], workdir: Path) -> tuple[Path, float]:
    out = workdir / "snapshot-undisturbed.yaml"
    started = time.monotonic()
    assert _snapshot(workspace, out, target) == 0
    return out, time.monotonic() - started
