"""The README's other commands, `make demo` and `make bench`, in their shortest form: run here so they cannot rot.

Each runs as a fresh clone would, in its own process with none of the suite's environment (no emulator,
no Prefect server): it starts what it needs and must finish with exit code 0. Their timings are printed,
not asserted (speed goals live in bench/).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).parents[1]


def _make(target: str, *args: str, timeout: float = 600) -> tuple[int, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AMLOPS_", "PREFECT_"))}
    done = subprocess.run(["make", "-s", target, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)
    return done.returncode, done.stdout + done.stderr


def test_make_demo_moves_the_workspace_and_trains_through_a_preemption() -> None:
    code, out = _make("demo")
    assert code == 0, out[-4000:]
    assert ": completed. /subscriptions/11111111-1111-1111-1111-111111111111/" in out and "-> /subscriptions/22222222-2222-2222-2222-222222222222/resourceGroups/ml-prod-moved/" in out, out[-4000:]
    assert "attempt 1 (demo-forecast-001): preempted" in out and "attempt 2 (demo-forecast-002): completed, resumed from runs/forecast/step-" in out, out[-4000:]


def test_make_bench_quick_runs_every_benchmark_end_to_end() -> None:
    code, out = _make("bench", "BENCH_ARGS=--quick")
    assert code == 0, out[-4000:]
    for header in ("emulator round trips", "move of a large workspace: completed", "move of a platform-sized workspace: completed", "stop 10 instances across 2 workspaces:", "training preempted 1 times, then completed", "every flow under 429/503/dropped connections"):
        assert header in out, f"{header!r} missing:\n{out[-4000:]}"
