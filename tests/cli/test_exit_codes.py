"""Every exit code the README documents, through the real `amlops` command in its own process."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from amlops.azure import computes, jobs, roles
from amlops.manifests import LocalManifestStore
from amlops.models import ComputeSpec, ResourceId
from app.cli import EXIT_CODES
from flows import pauses
from tests.conftest import TARGET_SUB, WS_ID, Env, demo_scenario
from tests.flows.test_move_workspace import _cmk, _databricks, _other_region, _other_tenant, _unregistered
from tests.warm_cli import WarmCli

ROOT = Path(__file__).parents[2]
WS = ResourceId.parse(WS_ID)
MOVE = ["move", "--source", WS_ID, "--target-subscription", TARGET_SUB, "--target-resource-group", "ml-moved", "--approval-poll", "1"]
UNATTENDED = ["--approve-plan-as", "alice", "--confirm-workspace", "ml-prod-ws", "--approve-private-endpoints-as", "alice"]


class Amlops:
    """`amlops ...` started in the background in a process of its own, pointed at the test's emulator and Prefect
    server: a fork of the worker's warm `amlops` (tests/warm_cli.py), so a run pays for its work, not its imports."""

    def __init__(self, cli: WarmCli, args: list[str], state_dir: Path, log: Path) -> None:
        self.log = log
        self.run = cli.start(args, {"AMLOPS_STATE_DIR": str(state_dir)}, log, stdout=True)

    def wait(self, timeout: float = 600) -> int:
        try:
            return self.run.wait(timeout=timeout)
        finally:
            self.run.send_signal(signal.SIGKILL)

    def output(self) -> str:
        return self.log.read_text()


@pytest.fixture
def amlops(flows_env: Env, warm_amlops: WarmCli, tmp_path: Path) -> Callable[..., Amlops]:
    flows_env.control.freeze()  # jobs submitted by a test stay active however slow the machine
    def start(*args: str) -> Amlops:
        return Amlops(warm_amlops, list(args), tmp_path / "state", tmp_path / f"amlops-{time.monotonic_ns()}.log")

    return start


def _run(amlops: Callable[..., Amlops], *args: str) -> tuple[int, str]:
    proc = amlops(*args)
    code = proc.wait()
    return code, proc.output()


def _change(change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    spec = demo_scenario()
    change(spec)
    return spec


def _storage_elsewhere(spec: dict[str, Any]) -> None:
    """The workspace passes preflight, but its storage account sits in another region: Azure's validation says no."""
    spec["resources"][0]["location"] = "northeurope"


def test_the_readme_lists_exactly_the_codes_the_cli_uses() -> None:
    readme = (ROOT / "README.md").read_text()
    line = next(x for x in readme.splitlines() if x.startswith("Exit codes:"))
    documented = {int(code): meaning for code, meaning in re.findall(r"(\d) ([a-z ]+?)(?:,|\.)", line)}
    assert documented == {0: "done", 2: "bad input", 3: "refused", 4: "finished with work left for a person"}
    assert set(EXIT_CODES.values()) == set(documented) - {0}, "a code the README does not document, or a documented one nothing uses"


@pytest.mark.parametrize(
    "args",
    [["--source", "ml-prod-ws"], ["--target-subscription", "not-a-guid"], ["--source", WS_ID.replace("ml-prod-ws", "ghost-ws")]],
    ids=["malformed-source", "malformed-subscription", "unknown-workspace"],
)
def test_bad_input_exits_2_before_any_write(amlops: Callable[..., Amlops], flows_env: Env, args: list[str]) -> None:
    flows_env.load_demo()
    mark = flows_env.control.mark()
    code, out = _run(amlops, *MOVE, *UNATTENDED, *args)
    assert code == 2, out
    assert flows_env.control.writes(mark) == []


def test_a_missing_required_option_exits_2(amlops: Callable[..., Amlops], flows_env: Env) -> None:
    code, out = _run(amlops, "move", "--source", WS_ID)
    assert code == 2 and "--target-subscription" in out, out


@pytest.mark.parametrize(
    ("change", "says"),
    [(_other_region, "OtherRegion"), (_other_tenant, "OtherTenant"), (_unregistered, "ProvidersNotRegistered"), (_cmk, "CustomerManagedKey"), (_databricks, "DatabricksLink")],
    ids=["other-region", "other-tenant", "providers", "cmk", "databricks"],
)
def test_each_preflight_refusal_exits_3_before_any_write(amlops: Callable[..., Amlops], flows_env: Env, change: Callable[[dict[str, Any]], None], says: str) -> None:
    flows_env.control.load(_change(change))
    mark = flows_env.control.mark()
    code, out = _run(amlops, *MOVE, *UNATTENDED)
    assert code == 3 and says in out, out
    assert flows_env.control.writes(mark) == []


def test_a_workspace_in_use_exits_3(amlops: Callable[..., Amlops], flows_env: Env) -> None:
    flows_env.load_demo()
    flows_env.control.traffic(f"{WS_ID}/onlineEndpoints/forecast-api", 5, seconds_ago=120)
    code, out = _run(amlops, *MOVE, *UNATTENDED)
    assert code == 3 and "EndpointTraffic" in out, out


def test_a_refusal_by_azures_validation_exits_3_and_restores_the_source(amlops: Callable[..., Amlops], flows_env: Env) -> None:
    flows_env.control.load(_change(_storage_elsewhere))
    before = sorted(c.name for c in computes.list_computes(flows_env.clients, WS))
    code, out = _run(amlops, *MOVE, *UNATTENDED)
    assert code == 3, out
    assert "CrossRegionMoveNotSupported" in out or "across regions" in out, out
    assert sorted(c.name for c in computes.list_computes(flows_env.clients, WS)) == before, "compute put back in the source"
    assert not any(r["path"].lower().endswith("/moveresources") for r in flows_env.control.requests()), "never sent moveResources"


def test_a_plan_not_approved_exits_3(amlops: Callable[..., Amlops], flows_env: Env) -> None:
    flows_env.load_demo()
    mark = flows_env.control.mark()
    code, out = _run(amlops, *MOVE, "--approve-plan-as", "alice", "--confirm-workspace", "ml-prod")
    assert code == 3 and "confirmed exactly" in out, out
    assert flows_env.control.writes(mark) == []


def test_a_move_already_in_progress_exits_3(amlops: Callable[..., Amlops], flows_env: Env, tmp_path: Path) -> None:
    flows_env.load_demo()
    LocalManifestStore(tmp_path / "state").acquire(WS_ID, "other-move", "another-live-run")  # held by this live process
    mark = flows_env.control.mark()
    code, out = _run(amlops, *MOVE, *UNATTENDED)
    assert code == 3 and "already being moved by flow run another-live-run" in out, out
    assert flows_env.control.writes(mark) == []


def _paused_plan(known: set[str], timeout: float = 300) -> pauses.PausedRun:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for run in pauses.list_paused():
            if run.id not in known and run.flow_name == "move-workspace" and "workspace_name" in run.fields:
                return run
        time.sleep(0.3)
    raise AssertionError("the move never paused for its plan")


def _move_waiting_for_its_plan(amlops: Callable[..., Amlops]) -> tuple[Amlops, pauses.PausedRun]:
    """A move started from the command, once it waits for its plan to be approved (its output if it never does)."""
    known = {r.id for r in pauses.list_paused()}
    proc = amlops(*MOVE, "--approve-private-endpoints-as", "alice")
    try:
        return proc, _paused_plan(known)
    except AssertionError:
        proc.wait(timeout=1)
        raise AssertionError(proc.output()) from None


def _answered_after(amlops: Callable[..., Amlops], meanwhile: Callable[[], None]) -> tuple[int, str]:
    """Start a move that waits for a person; change the workspace meanwhile; approve; the exit code."""
    proc, paused = _move_waiting_for_its_plan(amlops)
    meanwhile()
    pauses.answer(paused.id, approve=True, approver="carol", reason="CHG-7", workspace_name="ml-prod-ws")
    return proc.wait(), proc.output()


def _asked_again(run_id: str, before: str, timeout: float = 300) -> pauses.PausedRun:
    """The same run paused again with another question than ``before``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for run in pauses.list_paused():
            if run.id == run_id and run.description != before:
                return run
        time.sleep(0.3)
    raise AssertionError("the move never asked again")


def test_a_workspace_changed_while_its_plan_waited_is_asked_again_and_nothing_is_deleted_until_answered(amlops: Callable[..., Amlops], flows_env: Env) -> None:
    """Approved, but meanwhile a compute was added and a grant removed: right before its first destructive step the
    move reads the facts again, finds another plan, and asks again showing what changed; it writes nothing until a
    person answers, then carries out the new plan."""
    flows_env.load_demo()
    extra = ComputeSpec(name="late-ci", compute_type="ComputeInstance", create_properties={"computeType": "ComputeInstance", "properties": {"vmSize": "STANDARD_DS3_V2"}})
    [grant] = [a for a in roles.list_at_scope(flows_env.clients, WS_ID) if a.principal_type == "Group"]
    proc, first = _move_waiting_for_its_plan(amlops)
    mark = flows_env.control.mark()
    computes.create_compute(flows_env.clients, WS, extra, "westeurope")
    roles.delete(flows_env.clients, WS_ID, grant.name)
    pauses.answer(first.id, approve=True, approver="carol", reason="CHG-7", workspace_name="ml-prod-ws")
    again = _asked_again(first.id, first.description)
    assert "CHANGED since the plan you approved" in again.description, again.description
    assert "new: compute late-ci" in again.description and f"gone: grant {grant.grant}" in again.description, again.description
    ours = [(w["method"], w["path"].rsplit("/", 1)[-1]) for w in flows_env.control.writes(mark)]
    assert ours == [("PUT", "late-ci"), ("DELETE", grant.name)], f"the move wrote while it asked again: {ours}"
    pauses.answer(again.id, approve=True, approver="carol", reason="CHG-7, seen again", workspace_name="ml-prod-ws")
    code = proc.wait()
    assert code == 0, proc.output()
    moved = WS.moved_to(TARGET_SUB, "ml-moved")
    assert "late-ci" in {c.name for c in computes.list_computes(flows_env.clients, moved)}, "the compute added meanwhile came with the new plan"
    assert grant.principal_id not in {a.principal_id for a in roles.list_at_scope(flows_env.clients, str(moved))}, "the removed grant stayed removed"


def test_a_job_started_while_the_plan_waited_refuses_the_move(amlops: Callable[..., Amlops], flows_env: Env) -> None:
    """The quiesce gate runs again after the person approved: time passed while they read the plan."""
    flows_env.load_demo()
    mark = flows_env.control.mark()

    def someone_submits_a_job() -> None:
        jobs.submit_command_job(flows_env.clients, WS, "late-job", "python x.py", "azureml:forecast-env:1", "gpu-cluster")

    code, out = _answered_after(amlops, someone_submits_a_job)
    assert code == 3 and "ActiveJobs" in out and "late-job" in out, out
    assert [w["path"].rsplit("/", 1)[-1] for w in flows_env.control.writes(mark)] == ["late-job"], "nothing deleted or moved"


def test_a_private_endpoint_approval_timed_out_after_the_move_exits_4(amlops: Callable[..., Amlops], flows_env: Env) -> None:
    flows_env.load_demo()
    code, out = _run(amlops, *MOVE, "--approve-plan-as", "alice", "--confirm-workspace", "ml-prod-ws", "--approval-timeout", "2")
    assert code == 4, out
    assert "timed out" in out and "left Pending" in out, out
    target = WS.moved_to(TARGET_SUB, "ml-moved")
    assert computes.get_compute(flows_env.clients, target, "alice-ci").name == "alice-ci", "the move itself was done"


def test_work_left_for_a_person_after_the_move_exits_4(amlops: Callable[..., Amlops], flows_env: Env) -> None:
    spec = demo_scenario()
    spec["settings"] = {"etag_conflicts_after_move": 50}
    flows_env.control.load(spec)
    code, out = _run(amlops, *MOVE, *UNATTENDED)
    assert code == 4 and "left for a person" in out and "alice-ci" in out, out


def test_a_completed_move_exits_0(amlops: Callable[..., Amlops], flows_env: Env) -> None:
    flows_env.load_demo()
    code, out = _run(amlops, *MOVE, *UNATTENDED)
    assert code == 0 and ": completed." in out, out


def test_azure_failing_exits_1_with_its_message_and_no_traceback(amlops: Callable[..., Amlops], flows_env: Env) -> None:
    flows_env.load_demo()
    flows_env.control.fault("/workspaces/ml-prod-ws$", "503", method="GET", count=1000)  # Azure keeps failing the read
    mark = flows_env.control.mark()
    code, out = _run(amlops, *MOVE, *UNATTENDED)
    assert code == 1, out
    assert "Traceback" not in out, "Azure failing is an outcome: a message, no traceback"
    assert re.search(r"\namlops: .*503|\namlops: .*(unavailable|ServiceUnavailable)", out, re.IGNORECASE), out
    assert flows_env.control.writes(mark) == []


# Loaded by the interpreter before anything else (PYTHONPATH): a bug in amlops' own code, where the move reads the workspace.
BUG = """
import amlops.azure.workspaces as workspaces
def get_workspace(clients, workspace):
    return {}["a bug in amlops"]
workspaces.get_workspace = get_workspace
"""


def test_a_bug_exits_1_with_its_traceback(flows_env: Env, prefect_server: str, tmp_path: Path) -> None:
    flows_env.load_demo()
    (tmp_path / "bug").mkdir()
    (tmp_path / "bug" / "sitecustomize.py").write_text(BUG)
    env = {**os.environ, "PREFECT_API_URL": prefect_server, "AMLOPS_STATE_DIR": str(tmp_path / "state"), "PYTHONPATH": f"{tmp_path / 'bug'}:{ROOT}"}
    done = subprocess.run([sys.executable, "-m", "app.cli", *MOVE, *UNATTENDED], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 1, done.stdout + done.stderr
    # The command's own last words are Python's: the traceback of the bug, ending in the error itself.
    last = done.stderr.strip().splitlines()[-1]
    assert last == "KeyError: 'a bug in amlops'" and "Traceback (most recent call last)" in done.stderr, done.stderr[-3000:]
