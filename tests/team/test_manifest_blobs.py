"""The shared manifest store on Azurite: manifests as blobs, the move lock as a blob lease."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from amlops.azure.manifest_blobs import LEASE_SECONDS, BlobManifestStore
from amlops.errors import InvalidInput, MoveInProgress
from amlops.manifests import LocalManifestStore, open_store
from amlops.models import Workspace
from amlops.move import Inventory, MoveManifest, MoveRequest, build_plan
from tests.conftest import AZURITE_KEY, TARGET_SUB, WS_ID

ROOT = Path(__file__).parents[2]
LEASE = 15  # the shortest lease Azure grants, for the tests where its length does not matter

# A worker holding the move's lock with the store's defaults (a 60 s lease, renewed every 20 s), saying when
# each renewal went through.
HOLDER = """
import sys, time
from amlops.azure.manifest_blobs import BlobManifestStore
from amlops.move import MoveManifest
store = BlobManifestStore.from_url(sys.argv[1], MoveManifest.model_validate_json, sys.argv[2])
renew = store.heartbeat
def heartbeat(source, run_id):
    held = renew(source, run_id)
    print(f"renewed {time.time()} {held}", flush=True)
    return held
store.heartbeat = heartbeat
store.acquire(sys.argv[3], "move-1", "run-killed")
print(f"held {time.time()}", flush=True)
time.sleep(600)
"""


def _store(azurite: str) -> BlobManifestStore[MoveManifest]:
    return BlobManifestStore.from_url(f"{azurite}/state-{uuid.uuid4().hex[:8]}", MoveManifest.model_validate_json, AZURITE_KEY, lease_seconds=LEASE)


def _manifest(move_id: str) -> MoveManifest:
    request = MoveRequest(source=WS_ID, target_subscription=TARGET_SUB, target_resource_group="ml-moved")
    workspace = Workspace(id=WS_ID, name="ml-prod-ws", location="eastus", subscription=WS_ID.split("/")[2], resource_group="ml-prod")
    inventory = Inventory(workspace=workspace, taken_at="2026-12-05T00:00:00+00:00")
    return MoveManifest(move_id=move_id, request=request, inventory=inventory, plan=build_plan(request, inventory))


def test_manifests_round_trip_through_the_container(azurite: str) -> None:
    store = _store(azurite)
    assert store.load("move-1") is None
    where = store.save(_manifest("move-1"))
    assert where == f"{store.location}/moves/move-1/manifest.json" and AZURITE_KEY not in where
    assert store.load("move-1") == _manifest("move-1")


def test_the_lock_is_one_lease_per_workspace(azurite: str) -> None:
    store = _store(azurite)
    store.acquire(WS_ID, "move-1", "run-a")
    other_worker = BlobManifestStore(store.container, MoveManifest.model_validate_json, lease_seconds=LEASE)
    with pytest.raises(MoveInProgress, match="run-a"):
        other_worker.acquire(WS_ID, "move-2", "run-b")
    other_worker.acquire(WS_ID, "move-1", "run-a")  # the same run resumed on another worker holds its own lease
    store.release(WS_ID, "run-a")
    other_worker.acquire(WS_ID, "move-2", "run-b")
    with pytest.raises(MoveInProgress, match="run-b"):
        store.acquire(WS_ID, "move-1", "run-a")
    other_worker.release(WS_ID, "run-b")


def test_a_killed_workers_lease_is_renewed_until_it_dies_then_expires(azurite: str) -> None:
    """The documented lock: a 60 s lease, renewed every 20 s while the worker lives; killed, its lease is not
    broken but runs out 60 s after the last renewal. Real time on Azurite (its leases keep no other clock):
    about 105 s, spent waiting beside the rest of the suite."""
    assert LEASE_SECONDS == 60
    store = _store(azurite)
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, store.container.url, AZURITE_KEY, WS_ID], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None
        said = holder.stdout.readline().split()
        assert said[0] == "held", said
        beats = [float(said[1])]
        while len(beats) < 3:  # two renewals: at about 20 s and 40 s
            said = holder.stdout.readline().split()
            assert said[0] == "renewed" and said[2] == "True", said
            beats.append(float(said[1]))
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait()
        gaps = [later - earlier for earlier, later in zip(beats, beats[1:], strict=False)]
        assert all(19 <= gap <= 22 for gap in gaps), f"renewed after {gaps} s, not every 20 s"
        time.sleep(max(0.0, beats[0] + 62 - time.time()))
        with pytest.raises(MoveInProgress, match="run-killed"):  # past the first lease's 60 s: renewal kept it
            store.acquire(WS_ID, "move-2", "run-next")
        while True:
            try:
                store.acquire(WS_ID, "move-2", "run-next")
                freed = time.time()
                break
            except MoveInProgress:
                assert time.time() < beats[-1] + 75, "the killed worker's lease never expired"
                time.sleep(0.5)
        assert 58 <= freed - beats[-1] <= 66, f"freed {freed - beats[-1]:.1f} s after the last renewal, not 60 s"
    finally:
        if holder.poll() is None:
            holder.kill()
    store.release(WS_ID, "run-next")


def test_open_store_chooses_by_environment(azurite: str, tmp_path: Path) -> None:
    local = open_store({"AMLOPS_STATE_DIR": str(tmp_path)})
    assert isinstance(local, LocalManifestStore) and local.root == tmp_path / "moves"
    shared = open_store({"AMLOPS_STATE_URL": f"{azurite}/team-state", "AMLOPS_STATE_KEY": AZURITE_KEY})
    assert isinstance(shared, BlobManifestStore) and shared.location == f"{azurite}/team-state"
    with pytest.raises(InvalidInput, match="must name a blob container"):
        open_store({"AMLOPS_STATE_URL": "ftp://somewhere"})
