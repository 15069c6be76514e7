"""Stop 10,000 compute instances in 500 workspaces across 10 subscriptions, as a platform team's nightly
stop runs: through a Prefect server on PostgreSQL, two process workers, one flow run per worker.

The runs are scheduled, as the cron schedule ("0 19 * * 1-5") schedules them: created a little ahead
(LEAD_SECONDS, more than the workers' prefetch) with a scheduled time, so each worker takes its run
WORKER_PREFETCH_SECONDS before it is due, starts its process (the git clone, Prefect's, amlops' and the
Azure SDKs' imports), and Prefect's server holds the ready process until the scheduled time
(WaitForScheduledTime). The figure is the operator's: from the scheduled time (or the first run's start, were
it earlier) until both runs are done (their Completed state): the promise is "stopped as soon after 19:00 as
possible". The start-up that the prefetch hid is printed too, per run (picked up, its process's first
request, ready to run, Running; from the server's state history and access log), with what was left to spare:
a start-up longer than the prefetch shows up in the figure as time before the first request.

Each subscription holds 1,000 instances, so every subscription's write budget binds: (1,000 - 200 burst)
/ 10 per s = 80 s, all subscriptions in parallel (amlops/emulator/throttle.py holds ARM's numbers).
Prints that time against the floor (80 s, plus the last stop's own second; goal <= 1.1x), where it went,
429 responses (goal 0), Prefect task runs, the CPU and peak memory of each process, the machine's load, and a
serial one-at-a-time loop (as a shell loop over `az ml compute stop` would do) extrapolated from 100 stops
measured in the same run.

Run: .venv/bin/python -m bench.fleet_platform   (needs PostgreSQL: make postgres-deps)
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import psutil

from bench.common import goal_line, scratch

SUBSCRIPTIONS, WORKSPACES, PER_WORKSPACE = 10, 50, 20  # 10 x 50 x 20 = 10,000 instances
QUICK = (2, 2, 5, 3)  # --quick: subscriptions, workspaces each, instances each, serial sample: a smoke run
SAMPLE_SUB = "99999999-0000-0000-0000-000000000000"  # the serial loop's own instances, so the fleet's stay running
SAMPLE = 100
STOP_SECONDS = 1.0
BURST, RATE = 200, 10.0  # ARM's write budget per subscription (amlops/emulator/throttle.py)
AUTH = "bench:bench-only-credentials"
QUICK_LEAD = 10.0  # --quick: runs due this long after they are created (inside the prefetch: taken at once, then held)


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


def timeline(entries: list[dict[str, Any]], due: float, done: float) -> list[tuple[str, float]]:
    """Where the time from ``due`` (the scheduled time, epoch seconds) to ``done`` (both runs Completed) went, from the
    emulator's request log (each entry's wall-clock time), in parts that add up to it: until the first request; until
    the first stop of the subscription that finished last; its first to last stop; after its last stop until the last
    request (the list that saw the last operations end); and from there until both runs were done (the runs'
    reports, Prefect's bookkeeping)."""
    stops = [e for e in entries if e["method"] == "POST" and e["path"].endswith("/stop") and e["status"] in (200, 202)]
    if not entries or not stops:
        return []
    by_sub: dict[str, list[float]] = {}
    for e in stops:
        by_sub.setdefault(e["path"].split("/")[2].lower(), []).append(e["time"])
    last = max(by_sub.values(), key=max)
    first_request, last_request = entries[0]["time"], entries[-1]["time"]
    return [
        ("scheduled time to the first request", first_request - due),
        ("to the last sub's first stop", min(last) - first_request),
        ("its first to last stop", max(last) - min(last)),
        ("last stop to the last request", last_request - max(last)),
        ("last request to both runs done", done - last_request),
    ]


ACCESS = re.compile(r'^(\d\d:\d\d:\d\d\.\d{3}) \| INFO +\| uvicorn\.access - \S+ - "(GET|POST) /api/flow_runs/([0-9a-f-]{36})(/set_state)? ')


def process_times(server_log: str, runs: list[str], near: float) -> dict[str, tuple[float, float]]:
    """Each run's process, from the server's access log (local wall-clock times, the day nearest ``near``): its first
    request (``GET /flow_runs/<id>``: Python and Prefect imported) and its first state proposal after it (``set_state``:
    the code cloned and imported, asking to run; Prefect answers "wait" until the scheduled time)."""
    day = datetime.fromtimestamp(near).astimezone()
    first: dict[str, float] = {}
    ready: dict[str, float] = {}
    for line in server_log.splitlines():
        m = ACCESS.match(line)
        if not m or m.group(3) not in runs:
            continue
        clock = datetime.combine(day.date(), datetime.strptime(m.group(1), "%H:%M:%S.%f").time(), day.tzinfo).timestamp()
        clock += 86400 * round((near - clock) / 86400)  # a run around midnight
        run = m.group(3)
        if m.group(2) == "GET" and not m.group(4):
            first.setdefault(run, clock)
        elif m.group(4) and run in first:
            ready.setdefault(run, clock)
    return {r: (first[r], ready[r]) for r in runs if r in first and r in ready}


def _epoch(stamp: str) -> float:
    return datetime.fromisoformat(stamp).timestamp()


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
    """``quick``: 2 subscriptions of 2 workspaces of 5 instances through the same stack (a smoke run the suite makes),
    due QUICK_LEAD after they are created: inside the prefetch, so the workers take them at once and Prefect holds
    each ready process until it is due (the full run also waits out the prefetch window, as a cron schedule does)."""
    subscriptions, workspaces, per_workspace, sample = QUICK if quick else (SUBSCRIPTIONS, WORKSPACES, PER_WORKSPACE, SAMPLE)
    home = scratch("amlops-bench-platform-")  # the database and logs of this run: ~100 MB
    from amlops.azure import computes
    from amlops.azure.clients import Clients
    from amlops.emulator import Emulator
    from amlops.models import ResourceId
    from amlops.postgres import LocalPostgres
    from deployments.stack import POOL, ROOT, WORKER_PREFETCH_SECONDS, Stack

    lead = QUICK_LEAD if quick else WORKER_PREFETCH_SECONDS + 5.0  # as the scheduler creates a cron run: ahead of the prefetch
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
            run("app.cli", "deploy", "--work-pool", POOL, "--git-repository", f"file://{ROOT}")  # the README's one command; workers clone this checkout's commit
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
                load_before = os.getloadavg()[0]
                due = datetime.now(UTC) + timedelta(seconds=lead)
                scheduled = {"type": "SCHEDULED", "state_details": {"scheduled_time": due.isoformat()}}
                # No days off: on a Berlin public holiday the deployment's own calendar would skip every stop, and the
                # bench would measure nothing.
                parameters = [{"selector": {"subscriptions": h}, "holidays": []} for h in halves]
                runs = [str(client.post(f"/deployments/{deployment['id']}/create_flow_run", json={"parameters": p, "state": scheduled}).json()["id"]) for p in parameters]
                finished = _wait_completed(client, runs, timeout=900 + lead)
                task_runs = client.post("/task_runs/count", json={"flow_runs": {"id": {"any_": runs}}}).json()
                workers = client.post("/events/filter", json={"filter": {"event": {"name": ["prefect.worker.submitted-flow-run"]}, "any_resource": {"id": [f"prefect.flow-run.{r}" for r in runs]}}, "limit": 10}).json()
                history = {r: client.get("/flow_run_states/", params={"flow_run_id": r}).json() for r in runs}
        finally:
            stack.stop()
        processes = process_times(stack.log_of("server"), runs, due.timestamp())
        entries = emu.log.entries[first:]
    throttled = sum(1 for e in entries if e["status"] == 429)
    stops = sum(1 for e in entries if e["method"] == "POST" and e["path"].endswith("/stop") and e["status"] in (200, 202))
    states = sorted({f["state"]["name"] for f in finished.values()})
    run_seconds = max(f["total_run_time"] for f in finished.values())
    start = min(due.timestamp(), *(_epoch(f["start_time"]) for f in finished.values() if f["start_time"]))  # a run Prefect let start early counts from there
    done = max(_epoch(f["end_time"]) for f in finished.values())
    wall = done - start
    floor = floor_seconds(workspaces * per_workspace)
    total = subscriptions * workspaces * per_workspace
    serial = per_stop * total
    ran_on = {r["prefect.resource.id"].removeprefix("prefect.flow-run."): e["resource"]["prefect.resource.name"] for e in workers["events"] for r in e["related"] if r["prefect.resource.id"].startswith("prefect.flow-run.")}
    print(f"stop {total:,} instances in {subscriptions * workspaces} workspaces across {subscriptions} subscriptions, 2 flow runs on workers {sorted(ran_on.values())}: {states}")
    print(f"  stop requests accepted              {stops:8d}")
    print(f"  runs created {lead:.0f} s ahead of their scheduled time, workers prefetching {WORKER_PREFETCH_SECONDS} s (as a cron schedule's runs)")
    print(f"  scheduled time to both runs done    {wall:8.1f} s   (the operator's figure: stopped how long after 19:00)")
    print(f"  longest flow run (Prefect's clock)  {run_seconds:8.1f} s")
    created_to_running = max(_epoch(f["start_time"]) - _epoch(f["created"]) for f in finished.values())
    print(f"  longest created to Running          {created_to_running:8.1f} s   (the lead, or the start-up if longer)")
    print("  start-up each run's process took, hidden by the prefetch (seconds from the scheduled time):")
    for r in runs:
        pending = min((_epoch(s["timestamp"]) for s in history[r] if s["type"] == "PENDING"), default=float("nan"))
        running = min((_epoch(s["timestamp"]) for s in history[r] if s["type"] == "RUNNING"), default=float("nan"))
        up, ready = processes.get(r, (float("nan"), float("nan")))
        at = due.timestamp()
        print(
            f"    {ran_on.get(r, '?'):3s} picked up {pending - at:+6.1f}, process's first request {up - at:+6.1f}, ready {ready - at:+6.1f}"
            f" (start-up {ready - pending:4.1f} s, {at - ready:+5.1f} s to spare), Running {running - at:+5.1f}"
        )
    for label, seconds in timeline(entries, start, done):
        print(f"    {label:36s}{seconds:8.1f} s")
    print(f"  floor set by the write budget       {floor:8.1f} s   (max(0, {workspaces * per_workspace:,} - {BURST}) / {RATE:.0f} per s + {STOP_SECONDS:.0f} s, subscriptions in parallel)")
    print(f"  ratio to the floor                  {wall / floor:8.2f}x   goal <= 1.1x")
    print(f"  429 responses                       {throttled:8d}     goal 0")
    print(f"  Prefect task runs                   {task_runs:8d}     ({task_runs / total:.3f} per instance)")
    print(f"  serial loop, per stop               {per_stop:8.3f} s   (measured on {sample} stops in this run)")
    print(f"  serial loop, {total:,} stops         {serial:8.0f} s   (extrapolated)")
    print(f"  speed-up over the serial loop       {serial / wall:8.1f}x")
    print(f"  emulator requests served            {len(entries):8d}     ({len(entries) / wall:.0f} per s)")
    cpu: dict[str, float] = {}
    for (name, pid), seconds in memory.cpu.items():
        cpu[name] = cpu.get(name, 0.0) + seconds - memory.cpu_before.get((name, pid), 0.0)
    print(f"  machine load average (1 min)      {load_before:5.1f} to {os.getloadavg()[0]:4.1f}   (creating the runs, the end) on {os.cpu_count()} cores: above that, every figure is stretched")
    print(f"  CPU from creating the runs to done   {sum(cpu.values()):8.1f} s   ({1000 * sum(cpu.values()) / total:.1f} ms per stop, the processes' start-up included)")
    print("  per process: peak resident memory, CPU seconds from creating the runs to done, CPU per stop:")
    for name, rss in sorted(memory.peaks.items()):
        print(f"    {name:36s} {rss / 2**20:8.0f} MiB {cpu.get(name, 0.0):8.1f} s {1000 * cpu.get(name, 0.0) / total:7.2f} ms")
    print(goal_line("platform stops", wall / floor, 1.1))
    print(goal_line("platform 429s", throttled, 0))
    return {"wall": wall, "floor": floor, "throttled": throttled, "task_runs": task_runs, "serial": serial}


if __name__ == "__main__":
    main("--quick" in sys.argv[1:])
