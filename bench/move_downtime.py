"""The workspace's downtime during a move: from the first deletion until every item is back and verified,
for a platform-sized workspace at Azure's own speeds.

Azure's durations come from the Azure SDK teams' recordings of live Azure (Azure/azure-sdk-assets, measured
from each operation's first answer to the poll that saw it end; FACTS.md and the recorded tier's sources):

| operation                     | Azure      | recording |
|-------------------------------|------------|-----------|
| compute instance create       | 155-399 s  | compute/test_compute ... stop_start_restart (155), create_and_delete (399) |
| compute instance stop / start | 31 / 93 s  | compute/test_compute ... stop_start_restart |
| cluster create / delete       | 32 / 32-63 s | compute/test_compute ... aml_compute_create_and_delete |
| online endpoint create / delete | 55 / 8-10 s | online_services/test_online_endpoint ... e2e (server times) |
| online deployment create      | 425 s      | online_services/test_online_deployment ... create |
| endpoint traffic update       | 70 s       | the same session |
| batch endpoint create / delete | 30 / 10 s | batch_services/test_batch_endpoint ... create |
| validateMoveResources         | 33 s       | java resources GenericResourcesTests.canValidateMoveResources |

Not recorded anywhere, so assumed and said so: a compute instance delete as long as a cluster's (45 s), a batch
deployment as long as its endpoint (30 s), an attach of Kubernetes compute, datastore, role assignment, private
endpoint connection and job schedule writes answered at once (their recordings are synchronous or absent), and
moveResources as long as the longest compute creation (the issue's premise: the move lasts as long as the
compute creations).

The emulator's table of these (amlops.emulator.lro.AZURE_SECONDS, ``lro.azure_durations()``) is what the run uses
and what the floor is computed from.

Time is compressed: 1 minute of Azure is 1 second here (``SCALE``), by one factor on both sides and no other code
path: the emulator's clock runs SCALE seconds a second (operations, ARM's token buckets and Retry-After all in
Azure's seconds), and the flow's process gets AMLOPS_TIME_SCALE=SCALE, so amlops.azure.clients reckons every wait
in Azure's seconds and sleeps it scaled: ARM's budget (amlops.pacing.ARM_BUDGET, 10 writes a second) and Azure's
polling intervals (amlops.azure.operations.INTERVALS: 30 s compute, 5 s endpoints) keep their proportion to the
operations. What is not scaled is this machine: a millisecond of the flow's CPU counts as 60 ms of Azure's time,
so the figure is a bound the client's own cost must fit in, not only Azure's.

Run: ``python -m bench.move_downtime`` (``--quick``: a small workspace, a smoke run for the suite).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from amlops.emulator import lro
from bench.critical_path import Budget, Op, Schedule, schedule

SCALE = 60.0  # Azure seconds per second here
SUB, TARGET_SUB = "31313131-3131-3131-3131-313131313131", "32323232-3232-3232-3232-323232323232"
RG = f"/subscriptions/{SUB}/resourceGroups/ml-platform"
TARGET_RG = "ml-platform-moved"
WS = f"{RG}/providers/Microsoft.MachineLearningServices/workspaces/ml-platform-ws"
STORAGE = f"{RG}/providers/Microsoft.Storage/storageAccounts/mlplatformstore"
AKS = f"{RG}/providers/Microsoft.ContainerService/managedClusters/aks-"
REGION = "westeurope"


@dataclass(frozen=True)
class Size:
    instances: int = 150  # a third of them Stopped; every one with schedules and a setup script
    clusters: int = 40
    kubernetes: int = 10
    endpoints: int = 20  # online, two deployments each
    batch: int = 5  # batch endpoints, one deployment each
    datastores: int = 100
    grants: int = 300  # role assignments at the workspace
    connections: int = 10  # private endpoint connections
    schedules: int = 20  # Azure ML job schedules


FULL, QUICK = Size(), Size(6, 2, 1, 2, 1, 4, 6, 2, 2)

TARGET_WS = WS.replace("/resourceGroups/ml-platform/", f"/resourceGroups/{TARGET_RG}/").replace(SUB, TARGET_SUB)


def azure(kind: str) -> float:
    """Azure's seconds for a kind of operation: the emulator's table of the recordings above (lro.AZURE_SECONDS)."""
    seconds = lro.AZURE_SECONDS[kind]
    return seconds[0] if isinstance(seconds, tuple) else seconds


SYNC = 0.0  # writes Azure answers at once: datastores, role assignments, connections, job schedules
ARM = {"reads": (250, 25.0), "writes": (200, 10.0), "deletes": (200, 10.0)}  # burst, per second (request-limits-and-throttling)


def instance_seconds(i: int) -> float:
    """How long Azure takes to create instance ``i``: its place in the recorded range, as the emulator gives it."""
    low, high = lro.AZURE_SECONDS["compute.create.instance"]  # type: ignore[misc]  # a range
    return lro.seconds_for({"seconds": low, "up_to": high}, f"{TARGET_WS}/computes/ci-{i:03d}")


def stopped(i: int) -> bool:
    return i % 3 == 2  # a third of the instances


def operations(size: Size) -> list[Op]:
    """Every write of the move from its first delete, with what each waits for and how long Azure takes.

    Teardown (the source's delete budget): each compute and endpoint deleted (attached Kubernetes detached).
    Then validateMoveResources (a read) and moveResources. Rebuild (the target's write budget): each instance
    re-created, and stopped again if it was Stopped; clusters re-created and Kubernetes re-attached; each online
    endpoint created, its deployments, then its traffic; batch endpoints and their deployments; each datastore
    re-pointed (listSecrets, counted by ARM as a write, then the PUT); each grant re-created; each private
    endpoint connection approved; each job schedule enabled again."""
    ops: list[Op] = []
    deletes = [f"delete instance-{i}" for i in range(size.instances)] + [f"delete cluster-{i}" for i in range(size.clusters)]
    ops += [Op(k, azure("compute.delete"), "source.deletes") for k in deletes]
    ops += [Op(f"detach aks-{i}", SYNC, "source.deletes") for i in range(size.kubernetes)]
    ops += [Op(f"delete endpoint-{i}", azure("endpoint.delete.online"), "source.deletes") for i in range(size.endpoints)]
    teardown = tuple(op.key for op in ops)
    ops += [Op("validate", azure("validate"), "source.reads", teardown), Op("move", azure("move"), "source.writes", ("validate",))]
    moved = ("move",)
    for i in range(size.instances):
        ops.append(Op(f"create instance-{i}", instance_seconds(i), "target.writes", moved))
        if stopped(i):
            ops.append(Op(f"stop instance-{i}", azure("compute.stop"), "target.writes", (f"create instance-{i}",)))
    ops += [Op(f"create cluster-{i}", azure("compute.create.cluster"), "target.writes", moved) for i in range(size.clusters)]
    ops += [Op(f"attach aks-{i}", azure("compute.create.attach"), "target.writes", moved) for i in range(size.kubernetes)]
    for i in range(size.endpoints):
        ops.append(Op(f"create endpoint-{i}", azure("endpoint.create.online"), "target.writes", moved))
        deployments = tuple(f"deploy endpoint-{i}/{d}" for d in ("blue", "green"))
        ops += [Op(d, azure("deployment.create.online"), "target.writes", (f"create endpoint-{i}",)) for d in deployments]
        ops.append(Op(f"traffic endpoint-{i}", azure("endpoint.create.update"), "target.writes", deployments))
    # Batch endpoints move with the workspace; their deployments name a cluster, re-pointed once it is back.
    ops += [Op(f"repoint batch-{i}", azure("deployment.create.batch"), "target.writes", ("create cluster-0",)) for i in range(size.batch)]
    for i in range(size.datastores):
        ops.append(Op(f"listSecrets datastore-{i}", SYNC, "target.writes", moved))
        ops.append(Op(f"repoint datastore-{i}", SYNC, "target.writes", (f"listSecrets datastore-{i}",)))
    ops += [Op(f"grant-{i}", SYNC, "target.writes", moved) for i in range(size.grants)]
    ops += [Op(f"approve connection-{i}", SYNC, "target.writes", moved) for i in range(size.connections)]
    ops += [Op(f"enable schedule-{i}", SYNC, "target.writes", moved) for i in range(size.schedules)]
    return ops


def floor(size: Size) -> Schedule:
    """The least downtime in Azure seconds: every operation as early as its prerequisites and ARM's budgets allow."""
    budgets = {f"{side}.{kind}": Budget(burst, rate) for side in ("source", "target") for kind, (burst, rate) in ARM.items()}
    return schedule(operations(size), budgets)


def scenario(size: Size) -> dict[str, Any]:
    """The workspace and its target, as an emulator scenario."""
    ci_schedules = {"computeStartStop": [
        {"status": "Enabled", "action": "Stop", "triggerType": "Cron", "cron": {"expression": "0 19 * * 1-5", "timeZone": "W. Europe Standard Time"}},
        {"status": "Enabled", "action": "Start", "triggerType": "Cron", "cron": {"expression": "0 8 * * 1-5", "timeZone": "W. Europe Standard Time"}},
    ]}  # fmt: skip
    setup = {"scripts": {"creationScript": {"scriptSource": "workspaceStorage", "scriptData": "Users/shared/setup.sh", "timeout": "10m"}}}
    computes: list[dict[str, Any]] = [
        {"name": f"ci-{i:03d}", "location": REGION, **({"state": "Stopped"} if stopped(i) else {}),
         "properties": {"computeType": "ComputeInstance", "properties": {"vmSize": "STANDARD_DS3_V2", "idleTimeBeforeShutdown": "PT60M", "schedules": ci_schedules, "setupScripts": setup}}}
        for i in range(size.instances)
    ]  # fmt: skip
    computes += [
        {"name": f"cluster-{i:02d}", "location": REGION,
         "properties": {"computeType": "AmlCompute", "properties": {"vmSize": "STANDARD_NC6S_V3", "scaleSettings": {"minNodeCount": 0, "maxNodeCount": 4}}}}
        for i in range(size.clusters)
    ]  # fmt: skip
    computes += [
        {"name": f"aks-{i:02d}", "location": REGION, "properties": {"computeType": "Kubernetes", "resourceId": f"{AKS}{i:02d}", "properties": {"namespace": "azureml"}}}
        for i in range(size.kubernetes)
    ]
    endpoints = [
        {"name": f"ep-{i:02d}", "location": REGION, "properties": {"authMode": "Key", "traffic": {"blue": 80, "green": 20}},
         "deployments": [{"name": d, "sku": {"name": "Default", "capacity": 1}, "properties": {"endpointComputeType": "Managed", "model": "azureml:model:1", "instanceType": "Standard_DS3_v2"}}
                         for d in ("blue", "green")]}
        for i in range(size.endpoints)
    ]  # fmt: skip
    batch = [{"name": f"batch-{i}", "location": REGION, "properties": {"authMode": "AADToken"}, "deployments": [{"name": "scorer", "properties": {"compute": f"{WS}/computes/cluster-00"}}]} for i in range(size.batch)]
    datastores = [
        {"name": f"ds-{i:03d}", "properties": {"datastoreType": "AzureBlob", "accountName": "mlplatformstore", "containerName": f"c{i}", "endpoint": "core.windows.net", "protocol": "https",
                                               "subscriptionId": SUB, "resourceGroup": "ml-platform", "credentials": {"credentialsType": "AccountKey", "secrets": {"secretsType": "AccountKey", "key": "YmVuY2gta2V5"}}}}
        for i in range(size.datastores)
    ]  # fmt: skip
    role = f"/subscriptions/{SUB}/providers/Microsoft.Authorization/roleDefinitions/f6c7c914-8db3-469d-8ca1-694a8f32e121"
    grants = [{"name": f"00000000-0000-4000-8000-{i:012d}", "roleDefinitionId": role, "principalId": f"aaaaaaaa-0000-4000-8000-{i:012d}", "principalType": "User"} for i in range(size.grants)]
    connections = [
        {"name": f"pe-{i:02d}", "private_endpoint": f"/subscriptions/{SUB}/resourceGroups/net/providers/Microsoft.Network/privateEndpoints/pe-{i:02d}", "status": "Approved"}
        for i in range(size.connections)
    ]
    schedules = [
        {"name": f"nightly-{i:02d}", "properties": {"isEnabled": True, "trigger": {"triggerType": "Cron", "expression": "0 2 * * *", "timeZone": "UTC"},
                                                    "action": {"actionType": "CreateJob", "jobDefinition": {"jobType": "Command", "command": "python train.py", "computeId": "cluster-00"}}}}
        for i in range(size.schedules)
    ]  # fmt: skip
    return {
        "subscriptions": [{"id": SUB, "region": REGION}, {"id": TARGET_SUB, "region": REGION}],
        "resource_groups": [{"id": RG, "location": REGION}, {"id": f"/subscriptions/{TARGET_SUB}/resourceGroups/{TARGET_RG}", "location": REGION}],
        "resources": [{"id": STORAGE, "location": REGION, "properties": {}}] + [{"id": f"{AKS}{i:02d}", "location": REGION, "properties": {}} for i in range(size.kubernetes)],
        "workspaces": [{"id": WS, "location": REGION, "properties": {"storageAccount": STORAGE}, "computes": computes, "online_endpoints": endpoints, "batch_endpoints": batch,
                        "datastores": datastores, "role_assignments": grants, "private_endpoint_connections": connections, "schedules": schedules}],
        "settings": {"etag_conflicts_after_move": 0},
    }  # fmt: skip


def print_floor(size: Size) -> Schedule:
    result = floor(size)
    first_delete = min(result.sent_at[k] for k in result.sent_at if k.startswith(("delete", "detach")))
    print(f"  floor (Azure's time)             {(result.finish - first_delete) / 60:8.1f} min   first delete to the last item back")
    print(f"    of which the move               {(result.done_at['move'] - result.sent_at['validate']) / 60:8.1f} min   (validate, then moveResources)")
    return result


def is_check(path: str) -> bool:
    """A check of an operation's status (Azure ML's mfeOperationsStatus/Results, ARM's operationResults)."""
    return any(part in path for part in ("OperationsStatus/", "operationResults/", "OperationsResults/", "operationStatuses/"))


def phases(entries: list[dict[str, Any]], best: Schedule, scale: float) -> list[tuple[str, float, float]]:
    """Where the downtime went, in Azure's seconds, against the floor's own: (phase, measured, floor). Teardown: the
    first delete until validateMoveResources is sent; the move: until moveResources' operation is seen ended; the
    rebuild: until the verification's first read (of the workspace); the verification: until its last read (the
    floor has none: it ends with the last item back)."""
    begin, end = downtime(entries)
    validate = min(e["time"] for e in entries if "validatemoveresources" in e["path"].lower())
    moved = max(e["time"] for e in entries if "/microsoft.resources/" in e["path"].lower() and "operationresults/" in e["path"].lower())
    verifying = max(e["time"] for e in entries if e["method"] == "GET" and e["path"].lower().rstrip("/").endswith("/workspaces/ml-platform-ws"))
    first = min(best.sent_at[k] for k in best.sent_at if k.startswith(("delete", "detach")))
    marks = [begin, validate, moved, verifying, end]
    floor_marks = [first, best.sent_at["validate"], best.done_at["move"], best.finish, best.finish]
    names = ("teardown", "validate and move", "rebuild", "verification")
    return [(n, (marks[i + 1] - marks[i]) * scale, floor_marks[i + 1] - floor_marks[i]) for i, n in enumerate(names)]


def downtime(entries: list[dict[str, Any]]) -> tuple[float, float]:
    """Real seconds from the first delete of a compute or endpoint to the last request (the verification's last read)."""
    deletes = [e["time"] for e in entries if e["method"] == "DELETE" and ("/computes/" in e["path"] or "Endpoints/" in e["path"])]
    return min(deletes), max(e["time"] for e in entries)


def main(quick: bool = False, scale: float = SCALE) -> dict[str, float]:
    """The move against an emulator in its own process, its clock and this process's waits both at ``scale`` Azure
    seconds a second. At 60 every real second of this machine's own work (round trips, the flow's CPU, Prefect's
    bookkeeping) counts as a minute of Azure's time; the run prints both, measured in it. ``--scale 10`` weighs
    them a sixth as much (a run then lasts the floor / 10)."""
    import json
    import os
    import resource
    import time
    from collections import Counter
    from pathlib import Path

    from bench.common import emulator_process, goal_line, local_prefect, pointed_at, scratch

    size = QUICK if quick else FULL
    local_prefect()
    os.environ["AMLOPS_STATE_DIR"] = str(scratch("amlops-bench-"))
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

    from amlops.emulator.control_client import EmulatorControl
    from amlops.move import MoveApprovals, MoveRequest
    from bench.move_workspace import warm_up
    from flows.move_workspace import move_workspace

    spec = scratch("amlops-bench-") / "platform.json"
    spec.write_text(json.dumps(scenario(size)))
    with emulator_process(spec) as (url, ca):
        control = EmulatorControl(url, ca)
        env = {"AMLOPS_TARGET": "emulator", "AMLOPS_EMULATOR_URL": url, "AMLOPS_EMULATOR_CA": ca, "AMLOPS_TIME_SCALE": str(scale)}
        with pointed_at(env), temporary_settings({PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
            warm_up()
            control.settings(lro=lro.azure_durations(), throttle={"enabled": True})  # a full budget from here, as the floor assumes
            control.speed(scale)
            first = len(control.requests())
            cpu, started = time.process_time(), time.perf_counter()
            report = move_workspace(
                MoveRequest(source=WS, target_subscription=TARGET_SUB, target_resource_group=TARGET_RG, quiesce_window_minutes=0),
                MoveApprovals(approve_plan_as="bench", confirm_workspace="ml-platform-ws", approve_private_endpoints_as="bench"),
            )
            wall, cpu = time.perf_counter() - started, time.process_time() - cpu
            run = control.requests(first)
            rtt = round_trip_seconds()
    if os.environ.get("AMLOPS_BENCH_LOG"):  # the run's requests, for a closer look
        Path(os.environ["AMLOPS_BENCH_LOG"]).write_text(json.dumps(run))
    begin, end = downtime(run)
    down, best = (end - begin) * scale, print_floor(size)
    floor_down = best.finish - min(best.sent_at[k] for k in best.sent_at if k.startswith(("delete", "detach")))
    minimum, minimum_checks = minimum_requests(size)
    by_kind = Counter(e["kind"] for e in run)
    polls = sum(1 for e in run if is_check(e["path"]))
    throttled = sum(1 for e in run if e["status"] == 429)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"move of a platform-sized workspace: {report.status}")
    print(f"  {size.instances} instances, {size.clusters} clusters, {size.kubernetes} attached, {size.endpoints} online endpoints x 2 deployments, {size.batch} batch, "
          f"{size.datastores} datastores, {size.grants} grants, {size.connections} private endpoints, {size.schedules} job schedules")
    print(f"  downtime (Azure's time)          {down / 60:8.1f} min   first delete to the last item verified (x{scale:g}: {end - begin:.1f} s here)")
    for name, measured, least in phases(run, best, scale):
        print(f"    {name:30s} {measured / 60:8.2f} min   floor {least / 60:5.2f} min, {(measured - least) / 60:+.2f} min")
    print(f"  ARM requests                     {len(run):8d}       {dict(by_kind)}")
    print(f"  procedure's minimum              {minimum:8d}       (bench.move_downtime.minimum_requests)")
    print(f"    checks of operations           {polls:8d} vs {minimum_checks} on Azure's schedule (x{scale:g}: each check's round trip stretches the schedule)")
    print(f"    the rest                       {len(run) - polls:8d} vs {minimum - minimum_checks}   ({(len(run) - polls) / (minimum - minimum_checks):.2f}x)")
    excess = down - floor_down
    print(f"  this machine's round trip        {rtt * 1000:8.1f} ms     median of {ROUND_TRIPS} reads in turn: {rtt * scale:.2f} s of Azure's time at x{scale:g}")
    print(f"    downtime over its floor        {excess / 60:8.1f} min   = {excess / (rtt * scale):.0f} of those round trips in Azure's time")
    print(f"    the flow's CPU in Azure's time {cpu * scale / 60:8.1f} min   ({cpu:.1f} s x{scale:g}: one interpreter's work, which Azure's time does not shrink)")
    print(f"  flow process                     {peak:8.0f} MB peak, {cpu:.1f} s CPU in {wall:.1f} s ({cpu / wall:.0%} of a core)")
    print(goal_line("downtime", down / floor_down, 1.1))
    print(goal_line("requests", len(run) / minimum, 1.25))
    print(goal_line("429s", throttled, 0))
    return {"round_trip": rtt, "downtime": down, "floor": floor_down, "requests": len(run), "minimum": minimum, "checks": polls, "throttled": throttled, "peak_mb": peak, "cpu": cpu, "wall": wall}


ROUND_TRIPS = 30


def round_trip_seconds() -> float:
    """This machine's round trip to the emulator through amlops' clients, measured in the same run: the median of
    ROUND_TRIPS reads of the moved workspace, one after another. At a compressed time scale each counts ``scale``
    times over in Azure's time, which Azure's own answers do not: what the downtime's excess over its floor is made of."""
    import statistics
    import time

    from amlops.azure import workspaces
    from amlops.azure.clients import Clients
    from amlops.models import ResourceId

    clients, moved = Clients(), ResourceId.parse(WS).moved_to(TARGET_SUB, TARGET_RG)
    times = []
    for _ in range(ROUND_TRIPS):
        started = time.perf_counter()
        workspaces.get_workspace(clients, moved)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


PAGE = 100  # items per page of an ARM list (the emulator's, as Azure ML's)
GRAPH_BATCH = 1000  # ids per Microsoft Graph getByIds


def checks(seconds: float, interval: float) -> int:
    """How many times an operation lasting ``seconds`` is asked about on Azure's schedule (amlops.azure.operations:
    at once, then after 1, 2, 4 ... up to ``interval`` seconds) until it has ended."""
    from amlops.azure.operations import schedule

    asked, waited = 1, 0.0
    while waited < seconds:
        waited += schedule(asked, interval)
        asked += 1
    return asked


def pages(n: int) -> int:
    return max(1, -(-n // PAGE))


def minimum_requests(size: Size) -> tuple[int, int]:
    """What a correct, careful run of the procedure cannot do without, counted per resource, each long-running
    operation asked about on Azure's schedule (``checks``: compute 30 s, endpoints 5 s; ARM's moves as their
    Retry-After says: twice). Returns all of them, and of which checks of an operation.

    Snapshot (before, and again to verify): the workspace; its computes, datastores, role assignments (pages); online
    endpoints and each one's deployments; batch endpoints and each one's deployments; the storage account's role
    assignments; the directory (getByIds, per 1,000 principals); private endpoint connections; environments, models,
    data; job schedules enabled and disabled. Preflight: both subscriptions' tenants, the target group, the
    workspaces of both subscriptions, 6 resource providers, the subscription's resources (Databricks links), locks
    and permissions of both groups, the target group's resources, a policy check per type created in the target (5),
    each role definition granted (1). What runs, before and right before the move: labeling jobs, web services, run
    history (profiling runs), jobs. Writes: each enabled job schedule read and disabled, then read and enabled again;
    each compute deleted or detached and each online endpoint deleted (the compute followed by listing the workspace,
    each endpoint by its operation); the target group read; validateMoveResources and moveResources with their
    operations; the workspace read where it landed; the target read once per kind (computes, endpoints, datastores);
    each compute created and each instance that was Stopped stopped (followed by listing); each online endpoint
    created, its deployments, its traffic set (each followed by its operation); each datastore's listSecrets and
    PUT; each role assignment; each batch deployment re-pointed; each new private endpoint connection listed, read
    and approved.
    """
    n, a = size, {k: v if isinstance(v, tuple) else (v, v) for k, v in lro.AZURE_SECONDS.items()}
    computes = n.instances + n.clusters + n.kubernetes
    snapshot = 1 + pages(computes) + pages(n.datastores) + pages(n.grants) + 1 + n.endpoints + 1 + n.batch + 1 + -(-n.grants // GRAPH_BATCH) + 1 + 3 + 2
    preflight = 2 + 1 + 2 + 6 + 1 + 2 + 2 + 1 + 5 + 1
    running = 4
    schedules = 2 * n.schedules * 2
    low, high = a["compute.create.instance"]
    slowest = max(lro.seconds_for({"seconds": low, "up_to": high}, f"{WS}/computes/ci-{i:03d}") for i in range(n.instances))
    teardown = computes + n.endpoints + checks(a["compute.delete"][0], 30) * pages(computes)
    move = 1 + 1 + 1 + 1
    stopped_instances = sum(1 for i in range(n.instances) if stopped(i))
    compute = computes + stopped_instances + checks(slowest + a["compute.stop"][0], 30) * pages(computes)
    rebuild = 3 + compute + n.endpoints * (2 + 2) + 2 * n.datastores + n.grants + n.batch + 1 + 2 * n.connections
    operations = n.endpoints * (checks(a["endpoint.delete.online"][0], 5) + checks(a["endpoint.create.online"][0], 5) + checks(a["endpoint.create.update"][0], 5))
    operations += 2 * n.endpoints * checks(a["deployment.create.online"][0], 5) + n.batch * checks(a["deployment.create.batch"][0], 5) + 2 + 2
    return snapshot + preflight + running + schedules + teardown + running + move + rebuild + snapshot + operations, operations


if __name__ == "__main__":
    import sys

    args = sys.argv[1:]
    main("--quick" in args, float(args[args.index("--scale") + 1]) if "--scale" in args else SCALE)
