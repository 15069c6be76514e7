"""Snapshot of a large workspace against the floor its ARM reads need at the read budget.

Workspace: 200 compute instances and clusters, 50 datastores, 20 online endpoints (2 deployments each),
100 role assignments (workspace, resource group, subscription and storage account scopes). The emulator
throttles reads as ARM does (250 burst, then 25 per second per subscription); the client paces itself
under that budget (amlops/pacing.py).

Floor, measured in the same run: the reads the snapshot sent (taken from the emulator's request log) cost
at least max(0, N - 250) / 25 s at the budget, and at least the time the same N GETs take when all are
sent at once through the same client pipeline (no dependencies between them). Goal: snapshot (reads,
scenario built, file written) at most 1.2x that floor. For scale, reading every item one GET at a time
would need the number printed last, which no burst absorbs.
"""

from __future__ import annotations

import json
import statistics
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

SUB = "11111111-1111-1111-1111-111111111111"
RG = f"/subscriptions/{SUB}/resourceGroups/ml-huge"
WS = f"{RG}/providers/Microsoft.MachineLearningServices/workspaces/ml-huge-ws"
STORAGE = f"{RG}/providers/Microsoft.Storage/storageAccounts/mlhugestorage"
VAULT = f"{RG}/providers/Microsoft.KeyVault/vaults/mlhugekv"
N = {"computes": 200, "datastores": 50, "endpoints": 20, "deployments": 2, "roles": 100}
BURST, RATE = 250, 25.0  # ARM's read budget per subscription
RUNS = 5


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


def main() -> dict[str, float]:
    from amlops.azure import rest
    from amlops.azure.clients import POOL_SIZE, Clients, Target
    from amlops.azure.reads import read_workspace
    from amlops.azure.resources import SUBSCRIPTIONS_API
    from amlops.emulator import Emulator
    from amlops.models import ResourceId
    from amlops.pacing import Budget
    from amlops.snapshot import build_scenario

    workspace = ResourceId.parse(WS)
    out = Path(tempfile.mkdtemp(prefix="amlops-bench-")) / "snapshot.json"
    with Emulator(scenario_spec=scenario()) as emu:
        clients = Clients(Target("emulator", emu.base_url, str(emu.ca_file)), budget=Budget())
        mark = len(emu.log.entries)
        read_workspace(clients, workspace)  # warm: connections open, TLS handshakes done, off the clock
        paths = [(r["path"], r["api_version"]) for r in emu.log.entries[mark:]]

        def refilled() -> None:
            """A measurement starts with the subscription's whole burst on both sides, as a fresh run would."""
            time.sleep(len(paths) / (RATE - 1) + 0.3)  # the client's own pacer refills at 24 per s
            emu.throttler.reset()

        def one_at_a_time() -> float:
            started = time.perf_counter()
            for path, api in paths:
                rest.send(clients, SUB, "GET", path, api)
            return time.perf_counter() - started

        def snapshot() -> tuple[float, list[dict[str, Any]]]:
            mark = len(emu.log.entries)
            started = time.perf_counter()
            spec = build_scenario(read_workspace(clients, workspace), source=emu.base_url)
            out.write_text(json.dumps(spec))
            return time.perf_counter() - started, emu.log.entries[mark:]

        fresh: list[float] = []
        sequential: list[float] = []
        for _ in range(RUNS):
            refilled()
            fresh.append(snapshot()[0])
            refilled()
            sequential.append(one_at_a_time())
        # Other tools have spent the subscription's burst: every read now waits for its token.
        refilled()
        with ThreadPoolExecutor(max_workers=POOL_SIZE) as pool:
            list(pool.map(lambda _: rest.send(clients, SUB, "GET", f"/subscriptions/{SUB}", SUBSCRIPTIONS_API), range(BURST)))
        spent_time, requests = snapshot()
        spec = json.loads(out.read_text())
        items = len(spec["workspaces"][0]["computes"]) + len(spec["workspaces"][0]["datastores"]) + N["endpoints"] * (1 + N["deployments"]) + N["roles"]
    reads = len(paths)
    throttled = sum(1 for r in requests if r["status"] == 429)
    snap, reads_alone = statistics.median(fresh), statistics.median(sequential)
    floor_fresh = max(budget_floor(reads), reads_alone)
    floor_spent = reads / RATE
    ratio_fresh, ratio_spent = snap / floor_fresh, spent_time / floor_spent
    verdict = lambda r: "met" if r <= 1.2 else "MISSED"  # noqa: E731
    print(f"snapshot of a workspace with {N['computes']} computes, {N['datastores']} datastores, {N['endpoints']} endpoints, {N['roles']} role assignments")
    print(f"  ARM reads sent                     {reads:8d}   (writes: 0)")
    print(f"  with the subscription's burst of {BURST} reads available (median of {RUNS}):")
    print(f"    floor at the read budget         {budget_floor(reads):8.3f} s   (max(0, reads - {BURST}) / {RATE:.0f} per s: the burst absorbs them)")
    print(f"    the same reads, one at a time    {reads_alone:8.3f} s   (what the reads themselves cost here)")
    print(f"    snapshot: reads, scenario, file  {snap:8.3f} s   ({out.stat().st_size / 1e6:.2f} MB of JSON)")
    print(f"    ratio snapshot/floor             {ratio_fresh:8.2f}x   goal <= 1.2x: {verdict(ratio_fresh)}")
    print(f"  with the burst already spent by other tools ({BURST} reads just before):")
    print(f"    floor at the read budget         {floor_spent:8.3f} s   (reads / {RATE:.0f} per s)")
    print(f"    snapshot                         {spent_time:8.3f} s   (429s: {throttled})")
    print(f"    ratio snapshot/floor             {ratio_spent:8.2f}x   goal <= 1.2x: {verdict(ratio_spent)}")
    print(f"  one GET per item instead           {items + reads:8d} reads: at least {budget_floor(items + reads):.1f} s even with the burst")
    return {"reads": reads, "snapshot": snap, "floor": floor_fresh, "ratio": ratio_fresh, "ratio_burst_spent": ratio_spent}


if __name__ == "__main__":
    main()
