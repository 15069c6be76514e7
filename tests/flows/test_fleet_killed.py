"""stop-computes SIGKILLed while its stops are in flight, run again, and judged from the emulator.

Azure carries on an operation it accepted after the caller dies; what must not happen is an instance left
in a state nobody owns, a snoozed instance stopped, or the next run sending a stop to an instance that is
already stopping (Azure refuses an operation on an instance in a transitional state).
"""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
from typing import Any

import pytest

from amlops.azure import computes
from amlops.fleet import Selector
from amlops.models import ResourceId
from flows.compute_power import stop_computes
from tests import chaos
from tests.conftest import Env
from tests.warm_cli import ROOT

SUB = "77777777-7777-7777-7777-777777777777"
RG = f"/subscriptions/{SUB}/resourceGroups/fleet-killed"
WORKSPACES = [ResourceId.parse(f"{RG}/providers/Microsoft.MachineLearningServices/workspaces/team-{x}") for x in ("a", "b")]
SNOOZED = "a-snoozed"
RUN = "import sys\nfrom amlops.fleet import Selector\nfrom flows.compute_power import stop_computes\nstop_computes(selector=Selector(workspaces=sys.argv[1:]))\n"


def _instance(name: str, tags: dict[str, str] | None = None) -> dict[str, Any]:
    return {"name": name, "state": "Running", "tags": tags or {}, "properties": {"computeType": "ComputeInstance", "properties": {"vmSize": "STANDARD_DS3_V2"}}}


def _states(env: Env) -> dict[str, str | None]:
    return {c.name: c.state for ws in WORKSPACES for c in computes.list_computes(env.clients, ws)}


@pytest.mark.parametrize("seed", [7001, 7002])
def test_a_fleet_run_killed_mid_stop_leaves_every_instance_settled_and_the_next_run_finishes(flows_env: Env, prefect_server: str, seed: int) -> None:
    env = flows_env
    env.control.load({
        "subscriptions": [{"id": SUB, "region": "eastus"}],
        "resource_groups": [{"id": RG, "location": "eastus"}],
        "workspaces": [
            {"id": str(WORKSPACES[0]), "location": "eastus", "computes": [_instance(f"a-{i}") for i in range(5)] + [_instance(SNOOZED, {"amlops-keep-alive": "2099-01-01T00:00:00Z"})]},
            {"id": str(WORKSPACES[1]), "location": "eastus", "computes": [_instance(f"b-{i}") for i in range(5)]},
        ],
    })  # fmt: skip
    env.control.settings(lro={"compute.stop": {"mode": "seconds", "seconds": 1.5}})  # stops take time, as on Azure
    mark = env.control.mark()
    proc = subprocess.Popen([sys.executable, "-c", RUN, *map(str, WORKSPACES)], cwd=ROOT, env=chaos.cli_env(prefect_server), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while not any(w["path"].endswith("/stop") for w in env.control.writes(mark)) and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(random.Random(seed).uniform(0, 1.0))
        assert proc.poll() is None, f"the fleet run ended before the kill: {proc.communicate()[1][-2000:]}"
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    # Azure's clock stands still from here: what the killed run started stays Stopping while the next run
    # looks at it (however slow this machine), and the next run's own stops finish at once.
    env.control.freeze()
    env.control.settings(lro={"compute.stop": {"mode": "immediate"}})
    first_stops = {w["path"].rsplit("/", 2)[-2] for w in env.control.writes(mark) if w["path"].endswith("/stop")}
    after_kill = _states(env)
    assert first_stops and set(after_kill.values()) <= {"Running", "Stopping", "Stopped"}, after_kill
    assert "Stopping" in after_kill.values(), f"the kill landed while stops were in flight: {after_kill}"
    assert SNOOZED not in first_stops

    mark = env.control.mark()
    report = stop_computes(selector=Selector(workspaces=[str(w) for w in WORKSPACES]))
    assert report.counts.get("failed", 0) == 0, report.outcomes
    stopping_at_restart = {n for n, s in after_kill.items() if s in ("Stopping", "Stopped")}
    sent_again = {w["path"].rsplit("/", 2)[-2] for w in env.control.writes(mark) if w["path"].endswith("/stop")}
    assert not sent_again & stopping_at_restart, f"the second run sent a stop to {sorted(sent_again & stopping_at_restart)}, already stopping"
    env.control.advance(2)  # Azure finishes what the killed run started
    final = _states(env)
    assert final.pop(SNOOZED) == "Running", "the keep-alive tag was honoured by both runs"
    assert set(final.values()) == {"Stopped"}, final
