"""Chaos trials of `amlops move`: SIGKILL the real command at random moments, run it again, judge from Azure.

Shared by the test (tests/flows/test_move_chaos.py) and the benchmark (bench/move_chaos.py). The judge
reads the emulator through the real SDK gateway and compares with what the workspace had before the
first run, never with amlops' own manifest: the workspace must be in exactly one place, and either
moved with every compute (Succeeded, same settings, same power state), online endpoint and previously
approved private endpoint connection back, or still in the source with everything it had.
"""

from __future__ import annotations

import os
import random
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from amlops.azure import computes, endpoints, network, workspaces
from amlops.azure.clients import Clients
from amlops.emulator.control_client import EmulatorControl
from amlops.errors import NotFound
from amlops.models import ResourceId, deployment_names
from amlops.move import power_state
from tests.warm_cli import Run, WarmCli

SUB, TARGET_SUB = "11111111-1111-1111-1111-111111111111", "22222222-2222-2222-2222-222222222222"
SOURCE = ResourceId.parse(f"/subscriptions/{SUB}/resourceGroups/ml-prod/providers/Microsoft.MachineLearningServices/workspaces/ml-prod-ws")
TARGET = SOURCE.moved_to(TARGET_SUB, "ml-moved")
# Operations take time, as they do on Azure (minutes to hours there): compute and endpoint writes about
# 0.4 s, the move itself about 3 s, so kills land inside them.
LRO_SECONDS = {"default": {"mode": "seconds", "seconds": 0.4}, "move": {"mode": "seconds", "seconds": 3.0}, "validate": {"mode": "seconds", "seconds": 0.2}}
# The trial (#19): 10% of every route's answers 429 or 503, as Azure throttles and hiccups.
FAULTS: list[dict[str, Any]] = [{"route": ".", "kind": "429", "probability": 0.05, "retry_after": 1}, {"route": ".", "kind": "503", "probability": 0.05}]


def faults(rate: float, kinds: tuple[str, ...] = ("429", "503", "drop")) -> list[dict[str, Any]]:
    """Rules failing ``rate`` of the requests on every route, split evenly between ``kinds`` (the emulator tries
    its rules in turn, so each fails 1 - (1 - rate)^(1/n) of what reaches it). Retry-After 0: a trial measures
    whether a run carries on, not how long Azure asks it to wait."""
    each = 1 - (1 - rate) ** (1 / len(kinds))
    return [{"route": ".", "kind": kind, "probability": each, "retry_after": 0} for kind in kinds]


ARGS = [
    "move", "--source", str(SOURCE), "--target-subscription", TARGET_SUB, "--target-resource-group", TARGET.resource_group,
    "--approve-plan-as", "chaos", "--confirm-workspace", SOURCE.name, "--approve-private-endpoints-as", "chaos", "--approval-poll", "1",
]  # fmt: skip
class Launcher:
    """Starts `amlops move` runs with the arguments above, each in a process of its own forked from a warm one
    (tests/warm_cli.py), so a run's clock starts at its first line, not at its imports."""

    def __init__(self, base_env: dict[str, str] | None = None, cli: WarmCli | None = None) -> None:
        """A warm process of its own for ``base_env``, or runs forked from ``cli`` (a worker's, tests/flows/conftest.py)."""
        assert (base_env is None) != (cli is None), "either an environment or a warm process"
        self._cli = cli or WarmCli(base_env or {})
        self._owned = cli is None
        self._runs: list[Run] = []

    def start(self, state_dir: Path, log: Path) -> Run:
        run = self._cli.start(ARGS, {"AMLOPS_STATE_DIR": str(state_dir)}, log)
        self._runs.append(run)
        return run

    def finish(self, run: Run, timeout: float = 300) -> int:
        return run.wait(timeout)

    def close(self) -> None:
        """Its own warm process ends; a shared one stays, and only this launcher's runs still going are killed."""
        if self._owned:
            self._cli.close()
            return
        for run in self._runs:
            run.send_signal(signal.SIGKILL)
            run.wait(30)


@dataclass
class Picture:
    """What a person relies on in a workspace, read from Azure."""

    computes: dict[str, tuple[str, Any, str | None]]  # name -> (provisioning state, settings, power)
    endpoints: dict[str, tuple[list[str], dict[str, int]]]
    approved_endpoints: set[str]

    @staticmethod
    def read(c: Clients, ws: ResourceId) -> Picture | None:
        try:
            workspaces.get_workspace(c, ws)
        except NotFound:
            return None
        return Picture(
            computes={x.name: (x.provisioning_state, x.settings(), power_state(x.state) if x.is_instance else None) for x in computes.list_computes(c, ws)},
            endpoints={e.name: (deployment_names(e), e.traffic) for e in endpoints.list_online_endpoints(c, ws)},
            approved_endpoints={p.private_endpoint_id.lower() for p in network.list_connections(c, ws) if p.status == "Approved"},
        )


@dataclass
class Trial:
    seed: int
    faults: bool
    kills: list[float] = field(default_factory=list)  # seconds after the run's first write
    exits: list[int] = field(default_factory=list)
    end: str = ""  # moved / restored / inconsistent: ...
    recovery_seconds: float = 0.0  # from the restart after the last kill to the final run's end

    @property
    def consistent(self) -> bool:
        return self.end in ("moved", "restored")

    @property
    def after_last_kill(self) -> list[int]:
        """Exit codes of the runs after the last SIGKILL (all of them when no kill landed)."""
        killed = [i for i, code in enumerate(self.exits) if code == -signal.SIGKILL]
        return self.exits[killed[-1] + 1 :] if killed else self.exits

    @property
    def finished_in_one_run(self) -> bool:
        """The first run after the last kill ended 0: the demo move meets no refusal, so no other code is right."""
        return bool(self.after_last_kill) and self.after_last_kill[0] == 0

    def line(self) -> str:
        return f"seed {self.seed}: kills at {self.kills} s, exits {self.exits} -> {self.end}"


def judge(c: Clients, before: Picture) -> str:
    source, target = Picture.read(c, SOURCE), Picture.read(c, TARGET)
    if (source is None) == (target is None):
        return f"inconsistent: the workspace is in {'both places' if source else 'neither place'}"
    where, have = ("moved", target) if target else ("restored", source)
    assert have is not None
    problems = []
    for name, (_, settings, power) in before.computes.items():
        got = have.computes.get(name)
        if got is None:
            problems.append(f"compute {name} missing")
        elif got[0] != "Succeeded" or got[1] != settings or got[2] != power:
            problems.append(f"compute {name}: {got[0]}, power {got[2]} (was {power}), settings {'same' if got[1] == settings else 'differ'}")
    for name, want in before.endpoints.items():
        if have.endpoints.get(name) != want:
            problems.append(f"online endpoint {name}: {have.endpoints.get(name)} (was {want})")
    missing = before.approved_endpoints - have.approved_endpoints
    if missing:
        problems.append(f"private endpoints no longer approved: {sorted(missing)}")
    return where if not problems else f"inconsistent: {where} but " + "; ".join(problems)


def _succeeded_writes(control: EmulatorControl, mark: int) -> int:
    """Writes Azure carried out since ``mark``: refused, faulted and dropped ones changed nothing (a dropped
    connection logs status 0); one whose answer was dropped after it was carried out (``drop_after``) counts."""
    return sum(1 for r in control.writes(since=mark) if 0 < r["status"] < 400 or r["fault"] == "drop_after")


def _kill_after_write(control: EmulatorControl, proc: Run, mark: int, write: int, delay: float) -> float | None:
    """SIGKILL ``proc`` ``delay`` seconds after Azure carried out its ``write``-th write (inside that write's
    operation when it is long-running). The moment is a point in the run's own sequence of writes, not on the
    wall clock, so it lands while the run works however slow or fast the machine is. Returns the seconds
    after the run's first write, or None when the run ended first."""
    deadline = time.monotonic() + 300
    first: float | None = None
    while proc.poll() is None and time.monotonic() < deadline:
        done = _succeeded_writes(control, mark)
        if done and first is None:
            first = time.monotonic()
        if done >= write:
            break
        time.sleep(0.02)
    time.sleep(delay)
    if proc.poll() is not None or first is None:
        return None
    proc.send_signal(signal.SIGKILL)
    return round(time.monotonic() - first, 2)


def run_trial(
    control: EmulatorControl, c: Clients, launcher: Launcher, scenario: dict[str, Any], seed: int, faults: bool | list[dict[str, Any]], writes: int, workdir: Path
) -> Trial:
    """One seeded trial: one or two SIGKILLs, each at a random point of the ``writes`` an undisturbed move
    makes, then runs to the end. ``faults``: True for the issue's 10% 429/503 (FAULTS), or the rules to inject
    (``faults(rate)``)."""
    rng = random.Random(seed)
    rules = FAULTS if faults is True else (faults or [])
    tag = f"{seed}-{sum(r['probability'] for r in rules):.2f}"
    state, log = workdir / f"state-{tag}", workdir / f"trial-{tag}.log"
    control.reset()
    control.load(scenario)
    control.settings(lro=LRO_SECONDS)
    before = Picture.read(c, SOURCE)
    assert before is not None
    for rule in rules:
        control.fault(**rule)
    trial = Trial(seed=seed, faults=bool(rules))
    start = control.mark()
    for _ in range(rng.choice((1, 1, 2))):
        left = max(1, writes - _succeeded_writes(control, start))  # a resumed run has only the rest to do
        mark = control.mark()
        proc = launcher.start(state, log)
        killed = _kill_after_write(control, proc, mark, rng.randint(1, left), rng.uniform(0, 0.5))
        if killed is not None:
            trial.kills.append(killed)
        trial.exits.append(launcher.finish(proc))
    started = time.monotonic()
    for _ in range(3):  # an operator runs the same command again until it says how it ended
        code = launcher.finish(launcher.start(state, log))
        trial.exits.append(code)
        if code != 1:
            break
    trial.recovery_seconds = time.monotonic() - started
    control.clear_faults()
    trial.end = judge(c, before)
    return trial


def undisturbed(control: EmulatorControl, launcher: Launcher, scenario: dict[str, Any], workdir: Path) -> tuple[int, float]:
    """An undisturbed move with the same operation times: (the writes Azure carried out, total seconds)."""
    control.reset()
    control.load(scenario)
    control.settings(lro=LRO_SECONDS)
    mark = control.mark()
    started = time.monotonic()
    log = workdir / "undisturbed.log"
    code = launcher.finish(launcher.start(workdir / "state-undisturbed", log))
    assert code == 0, f"the undisturbed move failed (exit {code}): {log.read_text()[-3000:]}"
    return _succeeded_writes(control, mark), time.monotonic() - started


def cli_env(prefect_api_url: str) -> dict[str, str]:
    env = {**os.environ, "PREFECT_API_URL": prefect_api_url}
    env.pop("PREFECT_FLOWS_HEARTBEAT_FREQUENCY", None)
    env.pop("AZUREML_CURRENT_CLOUD", None)  # azure-ai-ml resolves it at import: a cloud registered only in this process
    return env
