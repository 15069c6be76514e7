"""amlops rehearse --keep: the move waits in a Prefect server of its own until a person approves the plan
(here with amlops approve, as from the UI), finishes, and the emulator and server stay up until stopped."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from amlops.emulator.control_client import EmulatorControl
from tests.conftest import DEMO, TARGET_SUB

ROOT = Path(__file__).parents[2]


def _amlops(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "app.cli", *args], env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)


def _read_until(process: subprocess.Popen[str], pattern: str, seen: list[str], timeout: float = 180) -> re.Match[str]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = process.stdout.readline() if process.stdout else ""
        if not line and process.poll() is not None:
            break
        seen.append(line)
        found = re.search(pattern, line)
        if found:
            return found
    raise AssertionError(f"never printed {pattern!r}:\n{''.join(seen)}")


def test_keep_waits_for_a_person_then_stays_up_until_stopped(tmp_path: Path) -> None:
    # A fresh terminal: nothing of this process's emulator, Prefect server or Azure ML cloud name (azure-ai-ml
    # resolves AZUREML_CURRENT_CLOUD at import, and that cloud is registered only in this process).
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AMLOPS_", "PREFECT_", "AZUREML_"))}
    env.update({"PYTHONUNBUFFERED": "1", "PREFECT_HOME": str(tmp_path / "prefect")})
    args = ["rehearse", "--scenario", str(DEMO), "--target-subscription", TARGET_SUB, "--target-resource-group", "ml-moved", "--keep",
            "--approve-private-endpoints-as", "alice", "--approval-poll", "1"]  # fmt: skip
    process = subprocess.Popen([sys.executable, "-m", "app.cli", *args], env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    seen: list[str] = []
    try:
        ui = _read_until(process, r"Prefect UI at (http://127\.0\.0\.1:\d+)", seen).group(1)
        person = {**env, "PREFECT_API_URL": f"{ui}/api"}
        run_id = ""
        deadline = time.monotonic() + 120
        while not run_id and time.monotonic() < deadline:
            pending = _amlops("pending", env=person).stdout
            found = re.search(r"^(\S+)\s+move-workspace/", pending, re.MULTILINE)
            run_id = found.group(1) if found else ""
            time.sleep(1)
        assert run_id, f"the move never waited for a person:\n{''.join(seen)}"
        answered = _amlops("approve", run_id, "--approver", "alice", "--reason", "rehearsal", "--workspace-name", "ml-prod-ws", env=person)
        assert answered.returncode == 0, answered.stderr

        _read_until(process, r"exit code 0 \(the move would complete\)", seen)
        url = _read_until(process, r"export AMLOPS_EMULATOR_URL=(\S+)", seen).group(1)
        ca = _read_until(process, r"export AMLOPS_EMULATOR_CA=(\S+)", seen).group(1)
        _read_until(process, r"Press Ctrl-C to stop both", seen)
        moved = [r["id"] for r in EmulatorControl(url, ca).resources() if r["type"] == "Microsoft.MachineLearningServices/workspaces"]
        assert moved == [f"/subscriptions/{TARGET_SUB}/resourceGroups/ml-moved/providers/Microsoft.MachineLearningServices/workspaces/ml-prod-ws"]
        with urllib.request.urlopen(f"{ui}/api/health", timeout=5) as health:
            assert health.status == 200

        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=120) == 0  # a hang guard, not a speed goal
        try:
            urllib.request.urlopen(f"{ui}/api/health", timeout=2)
            raise AssertionError("the Prefect server outlived the rehearsal")
        except OSError:
            pass
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
