"""Where the suite's CPU goes, test by test: opt in with `AMLOPS_TEST_CPU=DIR` (off by default).

Each pytest process (each xdist worker) appends one JSON line per test phase (setup, call, teardown) to
DIR/cpu-PID.jsonl: the CPU seconds (user + system) its whole process tree spent in that phase, and the wall time.
The tree is the worker itself, every live descendant (servers, `amlops` runs, Prefect workers, PostgreSQL), and
the children they have already reaped. A server a session fixture starts is charged to the phase that starts it
(the setup of the first test that asks for it) and then, while it runs, to whichever test is running. A process
that leaves the tree (a daemon that double-forks away) is counted only while it was in it.

`python -m tests.cpu_meter DIR` sums the lines: the top tests and modules, by CPU.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

ENV = "AMLOPS_TEST_CPU"


def _own(process: Any) -> float:
    times = process.cpu_times()
    return float(times.user + times.system + times.children_user + times.children_system)


def label(process: Any) -> str:
    """What kind of process it is, for the breakdown: a Prefect server, a worker, a flow run, `amlops ...`."""
    try:
        argv = process.cmdline()
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return "?"
    line = " ".join(argv)
    for needle, name in (("server start", "prefect-server"), ("uvicorn", "prefect-server"), ("prefect.server", "prefect-server"), ("worker start", "prefect-worker"),
                         ("from app.cli import main", "warm-amlops"), ("prefect.engine", "flow-run"), ("multiprocessing", "flow-run"), ("azurite", "azurite"), ("chrom", "chromium")):  # fmt: skip
        if needle in line:
            return name
    if "app.cli" in argv:
        return "amlops " + " ".join(argv[argv.index("app.cli") + 1 :][:1])
    if argv and "postgres" in argv[0]:
        return "postgres"
    if len(argv) > 2 and argv[1] == "-m":
        return argv[2]
    if len(argv) > 1 and argv[1] == "-c":
        return "python -c"
    return os.path.basename(argv[0]) if argv else "?"


def tree() -> dict[int, tuple[str, float]]:
    """CPU seconds so far of this process (pid 0 here: itself, "pytest"; its reaped children, "reaped") and of each
    live descendant with the children it reaped."""
    me = psutil.Process()
    times = me.cpu_times()
    found = {0: ("pytest", float(times.user + times.system)), -1: ("reaped", float(times.children_user + times.children_system))}
    for child in me.children(recursive=True):
        try:
            found[child.pid] = (label(child), _own(child))
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            pass  # gone between the listing and the read: its reaper will count it
    return found


def tree_cpu() -> float:
    """CPU seconds so far of this process and its descendants, the reaped ones included."""
    return sum(cpu for _, cpu in tree().values())


def breakdown(before: dict[int, tuple[str, float]], after: dict[int, tuple[str, float]]) -> dict[str, float]:
    """CPU by kind of process between two looks (a process that ended in between is its reaper's)."""
    kinds: dict[str, float] = defaultdict(float)
    for pid, (kind, cpu) in after.items():
        kinds[kind] += cpu - before.get(pid, (kind, 0.0))[1]
    for pid, (kind, cpu) in before.items():
        if pid not in after:
            kinds[kind] -= cpu
    return {kind: round(cpu, 2) for kind, cpu in kinds.items() if abs(cpu) >= 0.05}


class CpuMeter:
    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self._out = (directory / f"cpu-{os.getpid()}.jsonl").open("a")
        self._worker = os.environ.get("PYTEST_XDIST_WORKER", "main")

    def _measure(self, item: pytest.Item, phase: str) -> Iterator[None]:
        before, wall = tree(), time.monotonic()
        yield
        after = tree()
        cpu = sum(c for _, c in after.values()) - sum(c for _, c in before.values())
        line = {"test": item.nodeid, "phase": phase, "cpu": round(cpu, 3), "wall": round(time.monotonic() - wall, 3), "worker": self._worker, "by": breakdown(before, after)}
        self._out.write(json.dumps(line) + "\n")
        self._out.flush()

    def pytest_sessionfinish(self) -> None:
        """The process's whole life, collection and imports included: what the test lines leave out is the difference."""
        self._out.write(json.dumps({"worker_total": round(tree_cpu(), 3), "worker": self._worker}) + "\n")
        self._out.close()

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> Iterator[None]:
        return (yield from self._measure(item, "setup"))

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_call(self, item: pytest.Item) -> Iterator[None]:
        return (yield from self._measure(item, "call"))

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_teardown(self, item: pytest.Item) -> Iterator[None]:
        return (yield from self._measure(item, "teardown"))


def register(config: pytest.Config) -> None:
    directory = os.environ.get(ENV)
    if directory:
        config.pluginmanager.register(CpuMeter(Path(directory)), "amlops_cpu_meter")


def summary(directory: Path, top: int = 40) -> str:
    tests: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    kinds: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    lives: dict[str, float] = {}
    for path in sorted(directory.glob("cpu-*.jsonl")):
        for raw in path.read_text().splitlines():
            line = json.loads(raw)
            if "worker_total" in line:
                lives[line["worker"]] = line["worker_total"]
                continue
            name = line["test"].split("@")[0]
            test = tests[name]
            test[line["phase"]] += line["cpu"]
            test["cpu"] += line["cpu"]
            test["wall"] += line["wall"]
            for kind, cpu in line.get("by", {}).items():
                kinds[name][kind] += cpu
    modules: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0, 0])
    for name, test in tests.items():
        module = modules[name.split("::")[0]]
        module[0] += test["cpu"]
        module[1] += test["wall"]
        module[2] += 1
    total = sum(t["cpu"] for t in tests.values())
    workers = sum(cpu for worker, cpu in lives.items() if worker != "main") or lives.get("main", 0.0)
    overall: dict[str, float] = defaultdict(float)
    for by in kinds.values():
        for kind, cpu in by.items():
            overall[kind] += cpu
    out = [f"{len(tests)} tests: {total:.0f} CPU-s in their phases ({total / 60:.1f} CPU-min); the test processes' whole lives {workers:.0f} CPU-s", ""]
    out += ["By kind of process: " + ", ".join(f"{kind} {cpu:.0f}" for kind, cpu in sorted(overall.items(), key=lambda kv: -kv[1]) if cpu >= 1), ""]
    out += ["CPU-s  wall-s  tests  module"]
    out += [f"{cpu:6.1f} {wall:7.1f} {int(n):6d}  {name}" for name, (cpu, wall, n) in sorted(modules.items(), key=lambda kv: -kv[1][0])[:top]]
    out += ["", "CPU-s (setup/call/teardown)  wall-s  test  [by kind]"]
    for name, test in sorted(tests.items(), key=lambda kv: -kv[1]["cpu"])[:top]:
        parts = ", ".join(f"{kind} {cpu:.1f}" for kind, cpu in sorted(kinds[name].items(), key=lambda kv: -kv[1])[:4] if cpu >= 0.5)
        out.append(f"{test['cpu']:6.1f} ({test['setup']:5.1f}/{test['call']:5.1f}/{test['teardown']:5.1f}) {test['wall']:7.1f}  {name}  [{parts}]")
    return "\n".join(out)


if __name__ == "__main__":
    print(summary(Path(sys.argv[1]), int(sys.argv[2]) if len(sys.argv) > 2 else 40))
