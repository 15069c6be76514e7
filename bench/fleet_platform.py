"""Stop 10,000 compute instances in 500 workspaces across 10 subscriptions, as a platform team's nightly
stop runs: through a Prefect server on PostgreSQL, two process workers, one flow run per worker.

Each subscription holds 1,000 instances, so every subscription's write budget binds: (1,000 - 200 burst)
/ 10 per s = 80 s, all subscriptions in parallel (amlops/emulator/throttle.py holds ARM's numbers).
Prints wall time against that floor (80 s, plus the last stop's own second; goal <= 1.1x), where it went, 429 responses (goal 0), Prefect task runs, the
peak memory of each process, and a serial one-at-a-time loop (as a shell loop over `az ml compute stop`
would do) extrapolated from 100 stops measured in the same run.

Run: .venv/bin/python -m bench.fleet_platform   (needs PostgreSQL: make postgres-deps)
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import psutil

from bench.common import goal_line

SUBSCRIPTIONS, WORKSPACES, PER_WORKSPACE = 10, 50, 20  # 10 x 50 x 20 = 10,000 instances
QUICK = (2, 2, 5, 3)  # --quick: subscriptions, workspaces each, instances each, serial sample: a smoke run
SAMPLE_SUB = "99999999-0000-0000-0000-000000000000"  # the serial loop's own instances, so the fleet's stay running
SAMPLE = 100
STOP_SECONDS = 1.0
BURST, RATE = 200, 10.0  # ARM's write budget per subscription (amlops/emulator/throttle.py)
AUTH = "bench:bench-only-credentials"


def _sub(i: int) -> str:
    return f"{i + 1:08d}-aaaa-4aaa-8aaa-000000000000"


def _workspace(sub: str, i: int) -> str:
    return f"/subscriptions/{sub}/resourceGroups/fleet/providers/Microsoft.MachineLearningServices/workspaces/ws-{i:03d}"


def _instance(sub_index: int, workspace: int, j: int) -> str:
    """Instance names are unique per region across every workspace and subscription, as Azure ML requires
    (the emulator refuses a duplicate as Azure does), so each name carries its subscription and workspace."""
    return f"ci-{sub_index:02d}-{workspace:03d}-{j:03d}"


def scenario(subscriptions: int = SUBSCRIPTIONS, workspaces: int = WORKSPACES, per_workspace: int = PER_WORKSPACE, sample: int = SAMPLE) -> dict[str, Any]:
    ci = {"computeType": "ComputeInstance", "properties": {"vmSize": "STANDARD_DS3_V2", "idleTimeBeforeShutdown": "PT60M"}}
    subs = [_sub(i) for i in range(subscriptions)] + [SAMPLE_SUB]
    spec: dict[str, Any] = {"subscriptions": [], "resource_groups": [], "workspaces": []}
    for s, sub in enumerate(subs):
        spec["subscriptions"].append({"id": sub, "region": "eastus"})
        spec["resource_groups"].append({"id": f"/subscriptions/{sub}/resourceGroups/fleet", "location": "eastus"})
        count, per = (1, sample) if sub == SAMPLE_SUB else (workspaces, per_workspace)
        for w in range(count):
            computes = [{"name": _instance(s, w, j), "properties": ci} for j in range(per)]
            spec["workspaces"].append({"id": _workspace(sub, w), "location": "eastus", "computes": computes})
    return spec


def floor_seconds(per_subscription: int) -> float:
    """The write budget's floor, subscriptions in parallel: the burst at once, the rest at the refill rate,
    and the last stop's own duration."""
    return max(0, per_subscription - BURST) / RATE + STOP_SECONDS


class PeakMemory:
    """Samples the resident memory of every process of the stack; keeps each one's peak."""

    def __init__(self, roots: dict[str, int]) -> None:
        self.roots = roots
        self.peaks: dict[str, int] = {}
        self.cpu: dict[tuple[str, int], float] = {}
        self.cpu_before: dict[tuple[str, int], float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self) -> None:
        for label, pid in self.roots.items():
            try:
                root = psutil.Process(pid)
                children = [] if label.startswith("emulator") else root.children(recursive=True)  # the bench's children are the database
                family = [(label, root), *((f"{label} flow run" if label.startswith("worker") else f"{label} child", c) for c in children)]
            except psutil.NoSuchProcess:
                continue
            totals: dict[str, int] = {}
            for name, proc in family:
                try:
                    rss = proc.memory_info().rss
                    times = proc.cpu_times()
                except psutil.NoSuchProcess:
                    continue
                self.cpu[(name, proc.pid)] = times.user + times.system
                totals[name] = rss if label == "postgres" else max(totals.get(name, 0), rss)
                if label == "postgres" and name != label:
                    totals[label] = totals.get(label, 0) + rss  # the cluster: postmaster and its backends together
            for name, rss in totals.items():
                self.peaks[name] = max(self.peaks.get(name, 0), rss)

    def _run(self) -> None:
        while not self._stop.wait(0.5):
            self._sample()

    def __enter__(self) -> PeakMemory:
        self._sample()
        self.cpu_before = dict(self.cpu)  # what each process had spent before the fleet (start-up, deploy, the serial loop)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()


def timeline(entries: list[dict[str, Any]], submitted_at: float, wall: float) -> list[tuple[str, float]]:
    """Where the wall time went, from the emulator's request log (each entry's wall-clock time), in parts that add up
    to it: before the first request; until the first stop of the subscription that finished last; its first to last
    stop; after its last stop until the last request (the list that saw the last operations end); and from there until
    both runs were seen done (the runs' reports, Prefect's bookkeeping, this bench's poll every 0.5 s)."""
    stops = [e for e in entries if e["method"] == "POST" and e["path"].endswith("/stop") and e["status"] in (200, 202)]
    if not entries or not stops:
        return []
    by_sub: dict[str, list[float]] = {}
    for e in stops:
        by_sub.setdefault(e["path"].split("/")[2].lower(), []).append(e["time"])
    last = max(by_sub.values(), key=max)
    first_request, last_request = entries[0]["time"], entries[-1]["time"]
    return [
        ("submit to the first request", first_request - submitted_at),
        ("to the last sub's first stop", min(last) - first_request),
        ("its first to last stop", max(last) - min(last)),
        ("last stop to the last request", last_request - max(last)),
        ("last request to both runs done", submitted_at + wall - last_request),
    ]


def _wait_completed(client: httpx.Client, runs: list[str], timeout: float = 900) -> dict[str, dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while True:  # one request a poll: the server it measures serves the workers too
        found = {f["id"]: f for f in client.post("/flow_runs/filter", json={"flow_runs": {"id": {"any_": runs}}}).json()}
        states = {r: f["state"]["type"] for r, f in found.items()}
        if all(s in ("COMPLETED", "FAILED", "CRASHED", "CANCELLED") for s in states.values()):
            return found
        if time.monotonic() > deadline:
            raise TimeoutError(f"fleet runs still {states}")
        time.sleep(0.5)


def main(quick: bool = False) -> dict[str, float]:
    """``quick``: 2 subscriptions of 2 workspaces of 5 instances through the same stack (a smoke run the suite makes)."""
    subscriptions, workspaces, per_workspace, sample = QUICK if quick else (SUBSCRIPTIONS, WORKSPACES, PER_WORKSPACE, SAMPLE)
    home = Path(tempfile.mkdtemp(prefix="amlops-bench-platform-"))
    from amlops.azure import computes
    from amlops.azure.clients import Clients
    from amlops.emulator import Emulator
    from amlops.models import ResourceId
    from amlops.postgres import LocalPostgres
    from deployments.stack import POOL, ROOT, Stack

    with Emulator(scenario_spec=scenario(subscriptions, workspaces, per_workspace, sample)) as emu, LocalPostgres(home / "postgres") as database:
        emu.state.settings.lro = {"default": {"mode": "immediate"}, "compute.stop": {"mode": "seconds", "seconds": STOP_SECONDS}}
        os.environ.update(emu.env())

        # Baseline: one stop after another, each waited for, as a shell loop would.
        clients, sample_ws = Clients(), ResourceId.parse(_workspace(SAMPLE_SUB, 0))
        started = time.perf_counter()
        for j in range(sample):
            computes.stop_compute(clients, sample_ws, _instance(subscriptions, 0, j))
        per_stop = (time.perf_counter() - started) / sample

        stack = Stack(home, database, AUTH, emu.env())
        try:
            stack.start_server()
            env = stack.env

            def run(*command: str) -> None:
                subprocess.run([sys.executable, "-m", *command], cwd=ROOT, env=env, check=True, capture_output=True)

            run("prefect", "work-pool", "create", POOL, "--type", "process", "--overwrite")
            run("prefect", "variable", "set", "amlops_fleet_subscriptions", "[]", "--overwrite")
            run("app.cli", "source", "--git-repository", f"file://{ROOT}")  # workers clone this checkout's commit
            run("prefect", "--no-prompt", "deploy", "--all")
            for name in ("w1", "w2"):
                stack.start_worker(name, "--limit", "1")  # one fleet run each: the two halves run on two workers
            emu.throttler.reset()  # every subscription starts with a full budget, as the floor assumes
            first = len(emu.log.entries)
            user, password = AUTH.split(":", 1)
            assert stack.server is not None, "started above"
            roots = {"emulator (bench process)": os.getpid(), "prefect server": stack.server.pid, "postgres": int((home / "postgres" / "data" / "postmaster.pid").read_text().split()[0])}
            roots.update({f"worker {n}": p.pid for n, p in stack.workers.items()})
            with httpx.Client(base_url=stack.api, auth=(user, password), timeout=30) as client, PeakMemory(roots) as memory:
                deployment = client.get("/deployments/name/stop-computes/weekdays-berlin-stop").json()
                halves = [[_sub(i) for i in range(subscriptions) if i % 2 == k] for k in (0, 1)]
                started, submitted_at = time.perf_counter(), time.time()
                runs = [str(client.post(f"/deployments/{deployment['id']}/create_flow_run", json={"parameters": {"selector": {"subscriptions": h}}}).json()["id"]) for h in halves]
                finished = _wait_completed(client, runs)
                wall = time.perf_counter() - started
                task_runs = client.post("/task_runs/count", json={"flow_runs": {"id": {"any_": runs}}}).json()
                workers = client.post("/events/filter", json={"filter": {"event": {"name": ["prefect.worker.submitted-flow-run"]}, "any_resource": {"id": [f"prefect.flow-run.{r}" for r in runs]}}, "limit": 10}).json()
        finally:
            stack.stop()
        entries = emu.log.entries[first:]
    shutil.rmtree(home, ignore_errors=True)  # the database and logs of this run: ~100 MB
    throttled = sum(1 for e in entries if e["status"] == 429)
    stops = sum(1 for e in entries if e["method"] == "POST" and e["path"].endswith("/stop") and e["status"] in (200, 202))
    states = sorted({f["state"]["name"] for f in finished.values()})
    run_seconds = max(f["total_run_time"] for f in finished.values())
    start_up = max((datetime.fromisoformat(f["start_time"]) - datetime.fromisoformat(f["created"])).total_seconds() for f in finished.values())
    floor = floor_seconds(workspaces * per_workspace)
    total = subscriptions * workspaces * per_workspace
    serial = per_stop * total
    ran_on = sorted(e["resource"]["prefect.resource.name"] for e in workers["events"])
    print(f"stop {total:,} instances in {subscriptions * workspaces} workspaces across {subscriptions} subscriptions, 2 flow runs on workers {ran_on}: {states}")
    print(f"  stop requests accepted              {stops:8d}")
    print(f"  wall time, submit to both done      {wall:8.1f} s")
    print(f"  longest flow run (Prefect's clock)  {run_seconds:8.1f} s")
    print(f"  longest start-up, created to Running{start_up:8.1f} s   (a worker's poll, a new process, Prefect's imports)")
    for label, seconds in timeline(entries, submitted_at, wall):
        print(f"    {label:34s}{seconds:8.1f} s")
    print(f"  floor set by the write budget       {floor:8.1f} s   (max(0, {workspaces * per_workspace:,} - {BURST}) / {RATE:.0f} per s + {STOP_SECONDS:.0f} s, subscriptions in parallel)")
    print(f"  ratio wall/floor                    {wall / floor:8.2f}x   goal <= 1.1x")
    print(f"  429 responses                       {throttled:8d}     goal 0")
    print(f"  Prefect task runs                   {task_runs:8d}     ({task_runs / total:.3f} per instance)")
    print(f"  serial loop, per stop               {per_stop:8.3f} s   (measured on {sample} stops in this run)")
    print(f"  serial loop, {total:,} stops         {serial:8.0f} s   (extrapolated)")
    print(f"  speed-up over the serial loop       {serial / wall:8.1f}x")
    print(f"  emulator requests served            {len(entries):8d}     ({len(entries) / wall:.0f} per s)")
    cpu: dict[str, float] = {}
    for (name, pid), seconds in memory.cpu.items():
        cpu[name] = cpu.get(name, 0.0) + seconds - memory.cpu_before.get((name, pid), 0.0)
    print(f"  machine load average (1 min) at end  {os.getloadavg()[0]:7.1f}      on {os.cpu_count()} cores: above that, every figure is stretched")
    print(f"  CPU during the fleet, all processes  {sum(cpu.values()):8.1f} s   ({1000 * sum(cpu.values()) / total:.1f} ms per stop; {sum(cpu.values()) / wall:.2f} cores busy on average)")
    print("  per process: peak resident memory, CPU seconds during the fleet, CPU per stop:")
    for name, rss in sorted(memory.peaks.items()):
        print(f"    {name:36s} {rss / 2**20:8.0f} MiB {cpu.get(name, 0.0):8.1f} s {1000 * cpu.get(name, 0.0) / total:7.2f} ms")
    print(goal_line("platform stops", wall / floor, 1.1))
    print(goal_line("platform 429s", throttled, 0))
    return {"wall": wall, "floor": floor, "throttled": throttled, "task_runs": task_runs, "serial": serial}


if __name__ == "__main__":
    main("--quick" in sys.argv[1:])
