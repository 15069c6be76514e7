"""A large workspace moved end to end: ARM requests against the procedure's minimum, and wall time
against the critical path of the emulator's operation latencies (independent steps in parallel).

Workspace: 20 compute instances, 5 clusters, 5 online endpoints (2 deployments each), 20 datastores,
10 role assignments, 5 private endpoint connections. Goals: requests at most 1.5x the minimum; wall
time at most 1.3x the critical path.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from typing import Any

SUB, TARGET_SUB = "11111111-1111-1111-1111-111111111111", "22222222-2222-2222-2222-222222222222"
RG = f"/subscriptions/{SUB}/resourceGroups/ml-big"
WS = f"{RG}/providers/Microsoft.MachineLearningServices/workspaces/ml-big-ws"
STORAGE = f"{RG}/providers/Microsoft.Storage/storageAccounts/mlbigstorage"
N = {"instances": 20, "clusters": 5, "endpoints": 5, "deployments": 2, "datastores": 20, "roles": 10, "connections": 5}
# Seconds each kind of long-running operation takes in the emulator.
LATENCY = {"compute.delete": 2.0, "endpoint.delete": 2.0, "validate": 1.0, "move": 5.0, "compute.create": 3.0, "endpoint.create": 2.0, "deployment.create": 3.0}


def scenario() -> dict[str, Any]:
    computes = [
        {"name": f"ci-{i:02d}", "properties": {"computeType": "ComputeInstance", "properties": {"vmSize": "STANDARD_DS3_V2", "idleTimeBeforeShutdown": "PT60M"}}}
        for i in range(N["instances"])
    ] + [
        {"name": f"cluster-{i}", "properties": {"computeType": "AmlCompute", "properties": {"vmSize": "STANDARD_NC6", "scaleSettings": {"minNodeCount": 0, "maxNodeCount": 4}}}}
        for i in range(N["clusters"])
    ]
    endpoints = [
        {
            "name": f"ep-{i}",
            "properties": {"authMode": "Key", "traffic": {"blue": 80, "green": 20}},
            "deployments": [{"name": n, "properties": {"endpointComputeType": "Managed", "model": f"azureml:m:{i}"}} for n in ("blue", "green")][: N["deployments"]],
        }
        for i in range(N["endpoints"])
    ]
    datastores = [
        {"name": f"ds-{i:02d}", "properties": {"datastoreType": "AzureBlob", "accountName": "mlbigstorage", "containerName": f"c{i}", "subscriptionId": SUB, "resourceGroup": "ml-big",
                                                "credentials": {"credentialsType": "AccountKey", "secrets": {"secretsType": "AccountKey", "key": "a2V5"}}}}
        for i in range(N["datastores"])
    ]  # fmt: skip
    roles = [
        {"name": f"00000000-0000-0000-0000-0000000000{i:02d}", "roleDefinitionId": f"/subscriptions/{SUB}/providers/Microsoft.Authorization/roleDefinitions/acdd72a7-3385-48ef-bd42-f606fba81ae7", "principalId": f"p-{i}", "principalType": "User"}
        for i in range(N["roles"])
    ]
    connections = [
        {"name": f"pe-{i}", "private_endpoint": f"/subscriptions/{SUB}/resourceGroups/net/providers/Microsoft.Network/privateEndpoints/pe-{i}", "status": "Approved"}
        for i in range(N["connections"])
    ]
    return {
        "subscriptions": [{"id": SUB, "region": "westeurope"}, {"id": TARGET_SUB, "region": "westeurope"}],
        "resource_groups": [{"id": RG, "location": "westeurope"}, {"id": f"/subscriptions/{TARGET_SUB}/resourceGroups/ml-big-moved", "location": "westeurope"}],
        "resources": [{"id": STORAGE, "location": "westeurope", "properties": {}}],
        "workspaces": [{"id": WS, "location": "westeurope", "properties": {"storageAccount": STORAGE}, "computes": computes, "online_endpoints": endpoints,
                        "datastores": datastores, "role_assignments": roles, "private_endpoint_connections": connections}],
        "settings": {"etag_conflicts_after_move": 0},
    }  # fmt: skip


def minimum_requests() -> int:
    """What a correct, careful run of the procedure cannot do without, counted per resource.

    Reads: the snapshot (workspace, 3 compute/endpoint/batch lists, a deployment list per endpoint,
    datastores, roles, connections, 3 asset lists), preflight (2 tenants, target group, 5 providers,
    Databricks list), quiesce (jobs, a metric per endpoint, jobs again before the move) and the final
    verification snapshot. Writes, each long-running one with one status poll: deletes, target group,
    validate, move, creates, deployments, traffic updates, datastore re-points (each with its
    listSecrets), role assignments, and for each connection a re-read and a decision.
    """
    c, e, d = N["instances"] + N["clusters"], N["endpoints"], N["endpoints"] * N["deployments"]
    snapshot = 1 + 3 + e + 1 + 1 + 1 + 3
    preflight = 2 + 1 + 5 + 1
    quiesce = 1 + e + 1
    long_running = c + e + 1 + 1 + c + e + d + e  # deletes, validate, move, creates, endpoints, deployments, traffic
    writes = long_running + 1 + 2 * N["datastores"] + N["roles"] + 1 + 2 * N["connections"]
    return snapshot + preflight + quiesce + writes + long_running + snapshot


def critical_path() -> float:
    """The move's latency with every independent step in parallel."""
    delete = max(LATENCY["compute.delete"], LATENCY["endpoint.delete"])
    rebuild = max(LATENCY["compute.create"], LATENCY["endpoint.create"] + LATENCY["deployment.create"] + LATENCY["endpoint.create"])
    return delete + LATENCY["validate"] + LATENCY["move"] + rebuild


def warm_up() -> None:
    """One-time process costs kept off the clock: Prefect's ephemeral server start, importing azure.ai.ml."""
    import azure.ai.ml  # noqa: F401  (1-2 s on first import)
    from prefect import flow

    flow(name="warm-up")(lambda: None)()


def main(quick: bool = False) -> dict[str, float]:
    """``quick``: the same workspace with every latency a tenth as long (a smoke run, not a measurement)."""
    from bench.common import local_prefect, pointed_at, scratch

    state = str(scratch("amlops-bench-"))

    local_prefect()
    os.environ["AMLOPS_STATE_DIR"] = state
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

    from amlops.emulator import Emulator
    from amlops.move import MoveApprovals, MoveRequest
    from flows.move_workspace import move_workspace

    scale = 0.1 if quick else 1.0
    with Emulator(scenario_spec=scenario()) as emu, pointed_at(emu.env()), temporary_settings({PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
        emu.state.settings.lro = {"default": {"mode": "immediate"}, **{k: {"mode": "seconds", "seconds": v * scale} for k, v in LATENCY.items()}}
        warm_up()
        started = time.perf_counter()
        report = move_workspace(
            MoveRequest(source=WS, target_subscription=TARGET_SUB, target_resource_group="ml-big-moved"),
            MoveApprovals(approve_plan_as="bench", confirm_workspace="ml-big-ws", approve_private_endpoints_as="bench"),
        )
        wall = time.perf_counter() - started
        requests = len(emu.log.entries)
        by_kind = Counter(e["kind"] for e in emu.log.entries)
    floor, minimum = critical_path() * scale, minimum_requests()
    print(f"move of a large workspace: {report.status}")
    print(f"  ARM requests                {requests:8d}   ({dict(by_kind)})")
    print(f"  procedure's minimum         {minimum:8d}")
    print(f"  ratio requests/minimum      {requests / minimum:8.2f}x   goal <= 1.5x: {'met' if requests / minimum <= 1.5 else 'MISSED'}")
    print(f"  wall time                   {wall:8.2f} s   (Prefect server start and SDK import warmed up first)")
    print(f"  critical path of latencies  {floor:8.2f} s")
    print(f"  ratio wall/critical path    {wall / floor:8.2f}x   goal <= 1.3x: {'met' if wall / floor <= 1.3 else 'MISSED'}")
    return {"requests": requests, "minimum": minimum, "wall": wall, "critical_path": floor}


if __name__ == "__main__":
    main()
