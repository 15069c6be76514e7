"""The README's other commands, `make demo` and `make bench`, in their shortest form: run here so they cannot rot.

Each runs as a fresh clone would, in its own process with none of the suite's environment (no emulator,
no Prefect server): it starts what it needs and must finish with exit code 0. Their timings are printed,
not asserted (speed goals live in bench/).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

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


# `make bench BENCH_ARGS=--quick` in parts the suite's workers run side by side (one after another they took 5 to
# 7 minutes, most of it waiting): each part is the benchmarks it names, in `make bench`'s order, and the lines that
# show they got to the end. The parts in a row are every benchmark, in that order (the test after).
BENCH_PARTS = {
    "short-ones": (
        ("emulator_roundtrip", "move_workspace", "move_downtime", "fleet_stop", "fleet_start", "training_recovery", "snapshot", "recording"),
        ("emulator round trips", "move of a large workspace: completed", "move of a platform-sized workspace: completed", "stop 10 instances across 2 workspaces:", "training preempted 1 times, then completed"),
    ),
    "move_chaos": (("move_chaos",), ()),
    "flow_chaos": (("flow_chaos",), ("every flow under 429/503/dropped connections",)),
    "fleet_platform": (("fleet_platform",), ()),
}  # fmt: skip


@pytest.mark.parametrize(("names", "headers"), BENCH_PARTS.values(), ids=BENCH_PARTS.keys())
def test_make_bench_quick_runs_every_benchmark_end_to_end(names: tuple[str, ...], headers: tuple[str, ...]) -> None:
    code, out = _make("bench", f"BENCH_ARGS=--quick {' '.join(names)}")
    assert code == 0, out[-4000:]
    for line in (*headers, *(f"({name}: " for name in names)):
        assert line in out, f"{line!r} missing:\n{out[-4000:]}"


def test_the_bench_parts_are_every_benchmark_in_make_bench_order() -> None:
    from bench.run_all import BENCHMARKS

    assert [name for names, _ in BENCH_PARTS.values() for name in names] == list(BENCHMARKS)
