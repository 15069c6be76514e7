"""The move lock: taken atomically by exactly one of many contenders, and kept alive while the run waits."""

from __future__ import annotations

import json
import multiprocessing
import time
from pathlib import Path

import pytest

from amlops.errors import MoveInProgress, MoveNeedsAPerson
from amlops.manifests import LeaseKeeper, LocalManifestStore

SOURCE = "/subscriptions/11111111-1111-1111-1111-111111111111/resourceGroups/ml-prod/providers/Microsoft.MachineLearningServices/workspaces/ml-prod-ws"


def _contend(root: str, run_id: str, start: float, wins: multiprocessing.Queue[str]) -> None:
    while time.time() < start:
        pass
    try:
        LocalManifestStore(Path(root)).acquire(SOURCE, "move-1", run_id)
        wins.put(run_id)
    except MoveInProgress:
        pass
    time.sleep(1)  # stay alive: a live holder's lock is not taken over


def test_exactly_one_of_many_simultaneous_runs_takes_the_lock(tmp_path: Path) -> None:
    context = multiprocessing.get_context("spawn")
    wins = context.Queue()
    start = time.time() + 2.0
    procs = [context.Process(target=_contend, args=(str(tmp_path), f"run-{i}", start, wins)) for i in range(6)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=30)
    winners = []
    while not wins.empty():
        winners.append(wins.get())
    assert len(winners) == 1, winners


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
