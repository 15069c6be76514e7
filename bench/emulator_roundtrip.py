"""The emulator through the real SDK: median round trip of a GET and of a long-running operation,
and GETs per second sustained. Baseline, same run: bare HTTPS GETs on a kept-alive connection.

Goals: long-running round trip at most 10 ms median; at least 300 GETs per second.

The clients here run without amlops' ARM pacing (amlops.pacing: 24 reads/s after a burst of 240), as the
emulator runs without its throttle: this measures the server and the SDK. With the pacer on, every read
after the 240th waited ~40 ms for its slot, which this benchmark once reported as a 40 ms "stall"
(long-running round trip 38-42 ms, 49 SDK GETs/s); bench/fleet_stop.py measures the pacer itself.
"""

from __future__ import annotations

import os
import platform
import statistics
import threading
import time
from collections.abc import Callable

import requests

from amlops.azure import computes, workspaces
from amlops.azure.clients import Clients, Target
from amlops.emulator import scenario
from amlops.models import ResourceId
from amlops.pacing import ARM_BUDGET, Budget
from bench.common import emulator_process

DEMO = scenario.read(scenario.DEMO)
WS = ResourceId.parse(DEMO["workspaces"][0]["id"])


def machine() -> str:
    """The facts a reader needs to compare two runs of this benchmark."""
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return f"{os.cpu_count()} cores, load {load}; Python {platform.python_version()}; {platform.system()} {platform.release()} ({platform.machine()})"


def unpaced() -> Budget:
    """A budget no benchmark reaches: the clients send each request at once."""
    return Budget(limits={kind: (1e9, 10**9) for kind in ARM_BUDGET})


def median_ms(fn: Callable[[], object], n: int) -> float:
    for _ in range(5):
        fn()  # warm connections and caches
    samples = []
    for _ in range(n):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)


def throughput(fn: Callable[[], object], threads: int, seconds: float) -> float:
    count = 0
    lock = threading.Lock()
    stop = time.perf_counter() + seconds

    def worker() -> None:
        nonlocal count
        done = 0
        while time.perf_counter() < stop:
            fn()
            done += 1
        with lock:
            count += done

    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return count / seconds


def main(quick: bool = False) -> dict[str, float]:
    """``quick``: a few samples and half-second throughput runs (a smoke run, not a measurement)."""
    n, seconds = (20, 0.5) if quick else (300, 3.0)
    with emulator_process(scenario.DEMO, throttled=False) as (base_url, ca_file):  # measure the server, not ARM's budget
        clients = Clients(Target("emulator", base_url, ca_file), budget=unpaced())
        session = requests.Session()
        session.trust_env = False
        url = f"{base_url}{WS}?api-version=2024-10-01"
        bare = lambda: session.get(url, verify=ca_file)  # noqa: E731
        sdk_get = lambda: workspaces.get_workspace(clients, WS)  # noqa: E731

        def sdk_lro() -> None:
            computes.restart_compute(clients, WS, "alice-ci")

        figures = {
            "bare GET median ms": median_ms(bare, n),
            "SDK GET median ms": median_ms(sdk_get, n),
            "SDK long-running op median ms": median_ms(sdk_lro, n),
            "emulator GETs/s (bare clients, 4 threads)": throughput(bare, 4, seconds),
            "SDK GETs/s (4 threads, client-bound)": throughput(sdk_get, 4, seconds),
        }
    print("emulator round trips (real SDK over HTTPS; emulator in its own process; ARM pacing off)")
    print(f"  machine: {machine()}")
    for name, value in figures.items():
        print(f"  {name:44s} {value:9.2f}")
    print(f"  {'ratio SDK/bare GET latency':44s} {figures['SDK GET median ms'] / figures['bare GET median ms']:9.2f}x")
    print(f"  {'ratio SDK/bare GETs per second':44s} {figures['SDK GETs/s (4 threads, client-bound)'] / figures['emulator GETs/s (bare clients, 4 threads)']:9.2f}x")
    lro_ok = figures["SDK long-running op median ms"] <= 10
    tput_ok = figures["emulator GETs/s (bare clients, 4 threads)"] >= 300
    print(f"  goal: long-running op <= 10 ms median: {'met' if lro_ok else 'MISSED'}; emulator >= 300 GETs/s: {'met' if tput_ok else 'MISSED'}")
    return figures


if __name__ == "__main__":
    main()
