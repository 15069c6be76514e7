"""The move lock: taken atomically by exactly one of many contenders, and kept alive while the run waits."""

from __future__ import annotations

import json
import multiprocessing
import time
from pathlib import Path
from typing import Any

import pytest

from amlops.errors import MoveInProgress, MoveNeedsAPerson
from amlops.manifests import LeaseKeeper, LocalManifestStore

SOURCE = "/subscriptions/11111111-1111-1111-1111-111111111111/resourceGroups/ml-prod/providers/Microsoft.MachineLearningServices/workspaces/ml-prod-ws"


ROUNDS, CONTENDERS = 20, 6


def _contend(roots: list[str], run_id: str, barrier: Any, results: Any) -> None:
    """Round after round, all contenders released at once by a barrier try to take one fresh workspace lock,
    each saying when its attempt began and ended (CLOCK_MONOTONIC: one clock for every process)."""
    for round_no, root in enumerate(roots):
        barrier.wait()
        began = time.monotonic()
        try:
            LocalManifestStore(Path(root)).acquire(SOURCE, "move-1", run_id)
            won = True
        except MoveInProgress:
            won = False
        results.put((round_no, run_id, won, began, time.monotonic()))
        barrier.wait()  # the winner stays alive, holding its lock, until every attempt of the round is over


def test_exactly_one_of_many_simultaneous_runs_takes_the_lock(tmp_path: Path) -> None:
    context = multiprocessing.get_context("spawn")
    barrier, results = context.Barrier(CONTENDERS, timeout=120), context.Queue()
    roots = [str(tmp_path / f"round-{n}") for n in range(ROUNDS)]
    procs = [context.Process(target=_contend, args=(roots, f"run-{i}", barrier, results)) for i in range(CONTENDERS)]
    for p in procs:
        p.start()
    attempts = [results.get(timeout=180) for _ in range(ROUNDS * CONTENDERS)]
    for p in procs:
        p.join(timeout=30)
    overlapping = 0
    for round_no in range(ROUNDS):
        this = [a for a in attempts if a[0] == round_no]
        winners = [a[1] for a in this if a[2]]
        assert len(winners) == 1, f"round {round_no}: {winners} all took the lock"
        first_done = min(a[4] for a in this)
        overlapping += sum(1 for a in this if a[3] < first_done) >= 2  # two attempts in flight at once
    # On a machine too busy to run two attempts at the same moment the test proves nothing: it says so.
    assert overlapping >= 1, f"in {ROUNDS} rounds no two attempts were ever in flight at once"


def test_the_lease_is_renewed_while_the_run_waits(tmp_path: Path) -> None:
    store = LocalManifestStore(tmp_path)
    store.acquire(SOURCE, "move-1", "run-a", now=time.time() - 600)  # taken ten minutes ago
    lock = store._lock_path(SOURCE)
    with LeaseKeeper(store, SOURCE, "run-a", every=0.05) as keeper:
        time.sleep(0.5)  # a run waiting on Azure or on a person
        assert time.time() - json.loads(lock.read_text())["heartbeat"] < 5
        assert not keeper.lost


def test_a_run_whose_lease_was_taken_over_learns_it(tmp_path: Path) -> None:
    store = LocalManifestStore(tmp_path)
    store.acquire(SOURCE, "move-1", "run-a")
    lock = store._lock_path(SOURCE)
    holder = json.loads(lock.read_text())
    lock.write_text(json.dumps({**holder, "run_id": "run-b"}))  # run-a's lease expired and run-b took it
    assert store.heartbeat(SOURCE, "run-a") is False
    assert json.loads(lock.read_text())["run_id"] == "run-b", "a lost lease is not written back"


def test_a_manifest_of_an_older_amlops_is_refused_with_what_to_do(tmp_path: Path) -> None:
    store = LocalManifestStore(tmp_path)
    path = store.path("old-move")
    path.parent.mkdir(parents=True)
    path.write_text('{"move_id": "old-move", "request": {"source": "x", "target_subscription": "y", "target_resource_group": "z"}, "inventory": {}, "resources": []}')
    with pytest.raises(MoveNeedsAPerson, match="older amlops"):
        store.load("old-move")
