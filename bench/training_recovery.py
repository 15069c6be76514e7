"""A training job preempted K times: training time lost per preemption against the checkpoint interval
(goal: at most one interval), and the delay from a job's end to the next attempt's submission against
the watch interval (goal: at most one interval plus one submit round trip, measured in the same run).
"""

from __future__ import annotations

import statistics
import time
import uuid
from datetime import datetime

K, CHECKPOINT_EVERY, PREEMPT_AFTER, WATCH = 3, 2.0, 5.0, 1.0


def _at(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def main(quick: bool = False) -> dict[str, float]:
    """``quick``: one preemption and a shorter script (a smoke run, not a measurement)."""
    preemptions = 1 if quick else K
    from bench.common import local_prefect

    local_prefect()
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

    from amlops.emulator import Emulator, scenario
    from amlops.emulator.azurite import KEY, Azurite
    from amlops.training import Budgets, CheckpointLocation
    from bench.common import pointed_at
    from bench.move_workspace import warm_up
    from flows.train_with_retries import train_with_retries

    azurite = Azurite()
    url = azurite.start()
    spec = scenario.read(scenario.DEMO)
    ws = spec["workspaces"][0]
    ws["datastores"].append({"name": "checkpoints", "properties": {"datastoreType": "AzureBlob", "accountName": "devstoreaccount1", "containerName": "bench"}})
    try:
        with Emulator(scenario_spec=spec) as emu, pointed_at({**emu.env(), **azurite.env()}), temporary_settings({PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
            emu.state.settings.storage_url, emu.state.settings.storage_key, emu.state.settings.job_queue_seconds = url, KEY, 0.5
            lineage = f"bench-{uuid.uuid4().hex[:6]}"
            emu.state.job_schedules.append({"match": f"{lineage}-*", "end": "preempt", "after": PREEMPT_AFTER, "partial": True, "times": preemptions})
            warm_up()
            report = train_with_retries(
                workspace=ws["id"], command="python train.py", environment="azureml:forecast-env:1", compute="gpu-cluster",
                checkpoint=CheckpointLocation(datastore="checkpoints", path="runs/bench"), lineage=lineage,
                budgets=Budgets(backoff_seconds=0), watch_seconds=WATCH,
                environment_variables={"AMLOPS_STEPS_PER_SECOND": "10", "AMLOPS_CHECKPOINT_EVERY": str(CHECKPOINT_EVERY), "AMLOPS_TOTAL_STEPS": "80" if quick else "200"},
            )  # fmt: skip
            puts = [e["time"] for e in emu.log.entries if e["method"] == "PUT" and "/jobs/" in e["path"]]
            # One submit round trip through the SDK, measured on its own (what the goal allows on top of a watch).
            from amlops.azure import jobs
            from amlops.models import ResourceId
            from tasks.common import clients

            t0 = time.perf_counter()
            jobs.submit_command_job(clients(), ResourceId.parse(ws["id"]), f"{lineage}-probe", "echo", "azureml:forecast-env:1", "gpu-cluster")
            submit_rt = time.perf_counter() - t0
    finally:
        azurite.stop()
    preempted = [a for a in report.attempts if a.end == "preempted"]
    lost = [a.lost_seconds for a in preempted]
    delays = [puts[i + 1] - _at(a.ended) for i, a in enumerate(report.attempts[:-1])]
    print(f"training preempted {len(preempted)} times, then {report.attempts[-1].end}: {len(report.attempts)} attempts")
    print(f"  lost per preemption (median)     {statistics.median(lost):6.2f} s   checkpoint interval {CHECKPOINT_EVERY:.1f} s   ratio {statistics.median(lost) / CHECKPOINT_EVERY:5.2f}x")
    print(f"  goal lost <= one interval: {'met' if max(lost) <= CHECKPOINT_EVERY else 'MISSED'} (worst {max(lost):.2f} s)")
    print(f"  end -> next submission (median)  {statistics.median(delays):6.2f} s   watch interval {WATCH:.1f} s   ratio {statistics.median(delays) / WATCH:5.2f}x")
    print(f"  submit round trip (SDK)          {submit_rt:6.3f} s")
    bound = WATCH + submit_rt
    print(f"  goal <= one watch interval plus one submit round trip: {'met' if max(delays) <= bound else 'MISSED'} (worst {max(delays):.2f} s)")
    return {"lost": statistics.median(lost), "delay": statistics.median(delays)}


if __name__ == "__main__":
    main()
