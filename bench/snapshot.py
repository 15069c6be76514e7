"""Snapshot of a large workspace against the time its ARM reads themselves need, measured in the same run.

Workspace: 200 compute instances and clusters, 50 datastores, 20 online endpoints (2 deployments each),
100 role assignments (workspace, resource group, subscription and storage account scopes). The emulator
throttles reads as ARM does (250 burst, then 25 per second per subscription); the client paces itself
under that budget (amlops/pacing.py).

Baseline, measured in the same run: the reads themselves. The very URLs the snapshot sent (recorded as the
gateway built them), each fetched with a bare HTTPS GET (http.client on kept-alive connections, nextLink
followed, the body parsed as JSON; no SDK pipeline, no models, no dependencies between them), as many at once
as the snapshot's reader pool, paced by a token bucket at the read budget. Goal: the snapshot (reads in
dependency order through the SDK pipeline, scenario built, file written) takes at most 1.2x that, with the
subscription's burst available. With the burst already spent by other tools, the floor is the budget
itself: reads / 25 per s. For scale, reading every item one GET at a time would need the number printed
last, which no burst absorbs.
"""

from __future__ import annotations

import http.client
import json
import ssl
import statistics
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import urlsplit

SUB = "11111111-1111-1111-1111-111111111111"
RG = f"/subscriptions/{SUB}/resourceGroups/ml-huge"
WS = f"{RG}/providers/Microsoft.MachineLearningServices/workspaces/ml-huge-ws"
STORAGE = f"{RG}/providers/Microsoft.Storage/storageAccounts/mlhugestorage"
VAULT = f"{RG}/providers/Microsoft.KeyVault/vaults/mlhugekv"
N = {"computes": 200, "datastores": 50, "endpoints": 20, "deployments": 2, "roles": 100}
BURST, RATE = 250, 25.0  # ARM's read budget per subscription
RUNS = 7


def scenario() -> dict[str, Any]:
    schedule = {"status": "Enabled", "action": "Stop", "triggerType": "Cron", "cron": {"expression": "0 19 * * 1-5", "timeZone": "UTC"}}
    computes = [
        {"name": f"ci-{i:03d}", "tags": {"owner": f"user{i}"}, "properties": {"computeType": "ComputeInstance", "properties": {
            "vmSize": "STANDARD_DS3_V2", "idleTimeBeforeShutdown": "PT60M", "schedules": {"computeStartStop": [schedule]},
            "sshSettings": {"sshPublicAccess": "Disabled"}, "personalComputeInstanceSettings": {"assignedUser": {"objectId": f"00000000-0000-0000-0000-{i:012d}", "tenantId": SUB}},
            "setupScripts": {"scripts": {"startupScript": {"scriptSource": "workspaceStorage", "scriptData": f"Users/u{i}/start.sh"}}}}}}
        for i in range(N["computes"] - 20)
    ] + [
        {"name": f"cluster-{i:02d}", "properties": {"computeType": "AmlCompute", "properties": {"vmSize": "STANDARD_NC6", "scaleSettings": {"minNodeCount": 0, "maxNodeCount": 4}}}}
        for i in range(20)
    ]  # fmt: skip
    endpoints = [
        {"name": f"ep-{i:02d}", "properties": {"authMode": "Key", "traffic": {"blue": 80, "green": 20}},
         "deployments": [{"name": n, "properties": {"endpointComputeType": "Managed", "model": f"azureml:m:{i}"}} for n in ("blue", "green")][: N["deployments"]]}
        for i in range(N["endpoints"])
    ]  # fmt: skip
    datastores = [
        {"name": f"ds-{i:02d}", "properties": {"datastoreType": "AzureBlob", "accountName": "mlhugestorage", "containerName": f"c{i}", "subscriptionId": SUB, "resourceGroup": "ml-huge",
                                                "credentials": {"credentialsType": "AccountKey", "secrets": {"secretsType": "AccountKey", "key": "a2V5"}}}}
        for i in range(N["datastores"])
    ]  # fmt: skip
    role = "/providers/Microsoft.Authorization/roleDefinitions/b24988ac-6180-42a0-ab88-20f7382dd24c"
    scopes = [WS] * 60 + [RG] * 20 + [f"/subscriptions/{SUB}"] * 10 + [STORAGE] * 10
    roles = [{"scope": s, "name": f"00000000-0000-0000-0001-{i:012d}", "roleDefinitionId": role, "principalId": f"p-{i}", "principalType": "User"} for i, s in enumerate(scopes)]
    return {
        "subscriptions": [{"id": SUB, "region": "westeurope"}],
        "resource_groups": [{"id": RG, "location": "westeurope"}],
        "resources": [{"id": STORAGE, "location": "westeurope", "properties": {}}, {"id": VAULT, "location": "westeurope", "properties": {}}],
        "workspaces": [{"id": WS, "location": "westeurope", "properties": {"storageAccount": STORAGE, "keyVault": VAULT},
                        "computes": computes, "online_endpoints": endpoints, "datastores": datastores}],
        "role_assignments": roles,
        "locks": [{"scope": RG, "name": "no-delete", "level": "CanNotDelete"}],
    }  # fmt: skip


def budget_floor(reads: int) -> float:
    return max(0, reads - BURST) / RATE


class Bucket:
    """ARM's read budget on the caller's side: ``burst`` tokens, refilled at ``rate`` per second."""

    def __init__(self, burst: float = BURST, rate: float = RATE) -> None:
        self.tokens, self.rate, self.burst = burst, rate, burst
        self.last = time.monotonic()
        self.lock = threading.Lock()

    def take(self) -> None:
        with self.lock:
            now = time.monotonic()
            self.tokens = min(self.burst, self.tokens + (now - self.last) * self.rate)
            self.last = now
            self.tokens -= 1
            wait = -self.tokens / self.rate if self.tokens < 0 else 0.0
        if wait:
            time.sleep(wait)


class BareReader:
    """GETs over kept-alive HTTPS connections, one per thread of a pool kept across runs (as the snapshot's
    reader pool is): what reading costs without any client library."""

    def __init__(self, base_url: str, ca_file: str, workers: int) -> None:
        parts = urlsplit(base_url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 443
        self.context = ssl.create_default_context(cafile=ca_file)
        self.local = threading.local()
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="bare-read")
        self.cpu: list[float] = []  # this process's CPU seconds per run: the client's own cost

    def get(self, url: str, bucket: Bucket) -> int:
        """Every page of ``url``; returns how many items it held."""
        items = 0
        next_url: str | None = url
        while next_url:
            bucket.take()
            conn = getattr(self.local, "conn", None)
            if conn is None:
                conn = self.local.conn = http.client.HTTPSConnection(self.host, self.port, context=self.context)
            parts = urlsplit(next_url)
            conn.request("GET", parts.path + (f"?{parts.query}" if parts.query else ""), headers={"Authorization": "Bearer bench", "Accept": "application/json"})
            response = conn.getresponse()
            body = json.loads(response.read() or b"null")
            if response.status != 200:
                raise RuntimeError(f"GET {next_url}: {response.status} {body}")
            items += len(body.get("value", [])) if isinstance(body, dict) else 0
            next_url = body.get("nextLink") if isinstance(body, dict) else None
        return items

    def all(self, urls: list[str]) -> float:
        bucket = Bucket()
        started, cpu = time.perf_counter(), time.process_time()
        list(self.pool.map(lambda u: self.get(u, bucket), urls))
        self.cpu.append(time.process_time() - cpu)
        return time.perf_counter() - started


def spread(values: list[float]) -> str:
    return f"median {statistics.median(values):.3f}, min {min(values):.3f}, max {max(values):.3f}"


def main(quick: bool = False) -> dict[str, float]:
    """``quick``: one run instead of seven (a smoke run, not a measurement)."""
    from amlops.azure import rest
    from amlops.azure.clients import POOL_SIZE, Clients, Target
    from amlops.azure.reads import read_workspace
    from amlops.azure.resources import SUBSCRIPTIONS_API
    from amlops.emulator.control_client import EmulatorControl
    from amlops.models import ResourceId
    from amlops.pacing import Budget
    from amlops.snapshot import build_scenario
    from bench.common import emulator_process, scratch

    runs = 1 if quick else RUNS
    workspace = ResourceId.parse(WS)
    home = scratch("amlops-bench-")
    out, source = home / "snapshot.json", home / "huge.json"
    source.write_text(json.dumps(scenario()))
    # The emulator in a process of its own, as Azure is elsewhere: what is timed here is the client's work.
    with emulator_process(source) as (base_url, ca_file):
        control = EmulatorControl(base_url, ca_file)
        clients = Clients(Target("emulator", base_url, ca_file), budget=Budget())
        bare, serial = BareReader(base_url, ca_file, POOL_SIZE), BareReader(base_url, ca_file, 1)
        urls: list[str] = []
        built = rest.full_url

        def recorded(*args: Any, **kwargs: Any) -> str:  # the URLs the gateway builds, exactly as it sends them
            url = built(*args, **kwargs)
            urls.append(url)
            return url

        mark = control.mark()
        rest.full_url = recorded
        try:
            read_workspace(clients, workspace)  # warm: connections open, TLS handshakes done, off the clock
        finally:
            rest.full_url = built
        reads = control.mark() - mark
        for _ in range(3):  # warm the bare connections too: every pool thread opens its own
            bare.all(urls)
        serial.all(urls)
        bare.cpu.clear()

        def refilled() -> None:
            """A measurement starts with the subscription's whole burst on both sides, as a fresh run would."""
            time.sleep(reads / (RATE - 1) + 0.3)  # the client's own pacer refills at 25 per s: a little longer, to be sure
            control.settings(throttle={"enabled": True})  # and the emulator's buckets start full

        def snapshot() -> tuple[float, list[dict[str, Any]]]:
            mark = control.mark()
            started, cpu = time.perf_counter(), time.process_time()
            spec = build_scenario(read_workspace(clients, workspace), source=base_url)
            out.write_text(json.dumps(spec))
            elapsed = time.perf_counter() - started
            snapshot_cpu.append(time.process_time() - cpu)
            return elapsed, control.requests(mark)

        snapshot_cpu: list[float] = []

        fresh: list[float] = []
        alone: list[float] = []
        for _ in range(runs):
            refilled()
            fresh.append(snapshot()[0])
            refilled()
            alone.append(bare.all(urls))
        refilled()
        one_by_one = serial.all(urls)
        # Other tools have spent the subscription's burst: every read now waits for its token.
        refilled()
        with ThreadPoolExecutor(max_workers=POOL_SIZE) as pool:
            list(pool.map(lambda _: rest.send(clients, SUB, "GET", f"/subscriptions/{SUB}", SUBSCRIPTIONS_API), range(BURST)))
        spent_time, requests = snapshot()
        spec = json.loads(out.read_text())
        items = len(spec["workspaces"][0]["computes"]) + len(spec["workspaces"][0]["datastores"]) + N["endpoints"] * (1 + N["deployments"]) + N["roles"]
    throttled = sum(1 for r in requests if r["status"] == 429)
    ratios = [a / b for a, b in zip(fresh, alone, strict=True)]
    snap, reads_alone, ratio_fresh = statistics.median(fresh), statistics.median(alone), statistics.median(ratios)
    floor_spent = reads / RATE
    ratio_spent = spent_time / floor_spent
    verdict = lambda r: "met" if r <= 1.2 else "MISSED"  # noqa: E731
    print(f"snapshot of a workspace with {N['computes']} computes, {N['datastores']} datastores, {N['endpoints']} endpoints, {N['roles']} role assignments")
    print(f"  ARM reads sent                     {reads:8d}   ({len(urls)} URLs and their next pages; writes: 0)")
    print(f"  with the subscription's burst of {BURST} reads available ({runs} runs, each pair alternated):")
    print(f"    floor at the read budget         {budget_floor(reads):8.3f} s   (max(0, reads - {BURST}) / {RATE:.0f} per s: the burst absorbs them)")
    print(f"    the reads themselves, bare GETs  {reads_alone:8.3f} s   ({spread(alone)}; {POOL_SIZE} at once, at the budget)")
    print(f"    the same, one at a time          {one_by_one:8.3f} s")
    print(f"    snapshot: reads, scenario, file  {snap:8.3f} s   ({spread(fresh)}; {out.stat().st_size / 1e6:.2f} MB of JSON)")
    print(f"    ratio snapshot/reads             {ratio_fresh:8.2f}x   ({spread(ratios)} per run)   goal <= 1.2x: {verdict(ratio_fresh)}")
    print(f"    client CPU per run               {statistics.median(snapshot_cpu):8.3f} s   snapshot, against {statistics.median(bare.cpu[:runs]):.3f} s for the bare GETs (the SDK pipeline's cost)")
    print(f"  with the burst already spent by other tools ({BURST} reads just before):")
    print(f"    floor at the read budget         {floor_spent:8.3f} s   (reads / {RATE:.0f} per s)")
    print(f"    snapshot                         {spent_time:8.3f} s   (429s: {throttled})")
    print(f"    ratio snapshot/floor             {ratio_spent:8.2f}x   goal <= 1.2x: {verdict(ratio_spent)}")
    print(f"  one GET per item instead           {items + reads:8d} reads: at least {budget_floor(items + reads):.1f} s even with the burst")
    return {"reads": reads, "snapshot": snap, "floor": reads_alone, "ratio": ratio_fresh, "ratio_burst_spent": ratio_spent}


if __name__ == "__main__":
    main("--quick" in sys.argv[1:])
