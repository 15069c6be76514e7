"""Chaos for every flow: 10% and 20% of the requests on every route answered 429 or 503 or their connection dropped
(Retry-After 0), the move and the fleet also SIGKILLed at random moments. Per flow and rate: trials, how many ended
consistent (judged from the emulator), how many runs after the last kill ended 0 at once (within one run), and the
median wall time of that run against the same flow undisturbed, measured in the same run. Fresh seeds each time.

    python -m bench.flow_chaos [--trials 20] [--flows move,stop,start,train,snapshot] [--rates 0.1,0.2] [--seed N]
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from collections.abc import Callable
from typing import Any

FLOWS = ("move", "stop", "start", "train", "snapshot")


def _report(flow: str, rate: float, runs: list[Any], seconds: list[float], baseline: float) -> dict[str, float]:
    consistent = sum(r.consistent for r in runs)
    at_once = sum(r.finished_in_one_run for r in runs)
    median = statistics.median(seconds) if seconds else 0.0
    print(
        f"  {flow:<9} {rate:4.0%}  trials {len(runs):3d}  consistent {consistent:3d}/{len(runs)}  exit 0 within one run {at_once:3d}/{len(runs)}  "
        f"run {median:6.2f} s vs undisturbed {baseline:6.2f} s ({median / baseline if baseline else 0:4.2f}x)",
        flush=True,
    )
    for r in runs:
        if not (r.consistent and r.finished_in_one_run):
            print(f"      {r.line()}", flush=True)
    return {f"{flow}_{rate:.2f}_consistent": consistent / len(runs), f"{flow}_{rate:.2f}_one_run": at_once / len(runs)}


def main(trials: int = 20, flows: tuple[str, ...] = FLOWS, rates: tuple[float, ...] = (0.1, 0.2), seed: int | None = None, quick: bool = False) -> dict[str, float]:
    """``quick``: the undisturbed fleet and training runs once, not twice (the second keeps the first's imports off the
    baseline, which a smoke run does not need)."""
    undisturbed_runs = 1 if quick else 2
    from bench.common import goal_line, local_prefect, scratch

    prefect_api = local_prefect()
    work_dir = scratch("amlops-flow-chaos-")
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

    from amlops.emulator import Emulator
    from amlops.emulator.azurite import KEY, Azurite
    from amlops.emulator.control_client import EmulatorControl
    from amlops.models import ResourceId
    from bench.common import pointed_at
    from tests import chaos, flow_chaos
    from tests.conftest import WS_ID, demo_scenario, make_clients
    from tests.rehearse import rich

    base = seed if seed is not None else random.SystemRandom().randrange(10_000, 1_000_000)
    print(f"every flow under 429/503/dropped connections on every route (seeds from {base}; Retry-After 0)", flush=True)
    figures: dict[str, float] = {}
    azurite = Azurite()
    blob_url = azurite.start() if "train" in flows else ""  # only training writes checkpoints
    try:
        with (
            Emulator() as emulator,
            pointed_at({**emulator.env(), **azurite.env()}),
            temporary_settings({PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}),
        ):
            control = EmulatorControl(emulator.base_url, str(emulator.ca_file))
            clients = make_clients(emulator, control, [])
            cli_env = chaos.cli_env(prefect_api)

            def rounds(flow: str, baseline: float, trial: Callable[[float, int], Any]) -> None:
                runs: dict[float, list[Any]] = {rate: [] for rate in rates}
                for n in range(trials):  # the rates in turn, so that a run cut short has figures for each
                    for rate in rates:
                        runs[rate].append(trial(rate, base + n))
                        print(f"    {flow} {rate:.0%} trial {n + 1}: {runs[rate][-1].line()} (finished within one run: {runs[rate][-1].finished_in_one_run})", flush=True)
                for rate in rates:
                    seconds = [r.recovery_seconds if flow == "move" else r.seconds for r in runs[rate]]
                    figures.update(_report(flow, rate, runs[rate], seconds, baseline))

            def fleet(action: str) -> Callable[[float, int], Any]:
                return lambda rate, s: flow_chaos.fleet_trial(control, clients, cli_env, action, rate, s)

            if "move" in flows:
                launcher = chaos.Launcher(cli_env)
                try:
                    scenario = demo_scenario()
                    writes, total = chaos.undisturbed(control, launcher, scenario, work_dir)
                    rounds("move", total, lambda rate, s: chaos.run_trial(control, clients, launcher, scenario, s, chaos.faults(rate), writes, work_dir))
                finally:
                    launcher.close()
            for action in ("stop", "start"):
                if action in flows:
                    for _ in range(undisturbed_runs):  # the second: imports and Prefect's first task runs paid by the first
                        undisturbed = flow_chaos.fleet_trial(control, clients, cli_env, action, 0.0, base, kill=False)
                    assert undisturbed.consistent, undisturbed.line()
                    rounds(action, undisturbed.seconds, fleet(action))
            if "train" in flows:
                spec = demo_scenario()
                spec["workspaces"][0]["datastores"].append({"name": "checkpoints", "properties": {"datastoreType": "AzureBlob", "accountName": "devstoreaccount1", "containerName": "chaos"}})
                control.reset()
                control.load(spec)
                control.settings(storage_url=blob_url, storage_key=KEY, job_queue_seconds=0.2)
                ws = ResourceId.parse(WS_ID)
                for _ in range(undisturbed_runs):
                    undisturbed = flow_chaos.training_trial(control, clients, ws, 0.0, base)
                assert undisturbed.consistent, undisturbed.line()
                rounds("train", undisturbed.seconds, lambda rate, s: flow_chaos.training_trial(control, clients, ws, rate, s))
            if "snapshot" in flows:
                control.reset()
                control.load(rich.scenario())
                target = (rich.TARGET_SUB, "ml-rich-moved")
                baseline, seconds = flow_chaos.snapshot_baseline(rich.WS, target, work_dir)
                rounds("snapshot", seconds, lambda rate, s: flow_chaos.snapshot_trial(control, rich.WS, target, rate, s, work_dir, baseline))
    finally:
        if blob_url:
            azurite.stop()
    print(goal_line("chaos trials inconsistent", sum(round((1 - v) * trials) for k, v in figures.items() if k.endswith("_consistent")), 0))
    print(goal_line("chaos trials not finished within one run", sum(round((1 - v) * trials) for k, v in figures.items() if k.endswith("_one_run")), 0))
    return figures


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--flows", default=",".join(FLOWS))
    parser.add_argument("--rates", default="0.1,0.2")
    parser.add_argument("--seed", type=int)
    parser.add_argument("--quick", action="store_true", help="one trial of the fleet's stop and of the snapshot at 20%%: a smoke run, not a measurement")
    args = parser.parse_args()
    started = time.monotonic()
    if args.quick:
        main(1, ("stop", "snapshot"), (0.2,), args.seed, quick=True)
    else:
        main(args.trials, tuple(args.flows.split(",")), tuple(float(r) for r in args.rates.split(",")), args.seed)
    print(f"  ({time.monotonic() - started:.0f} s in all)")
