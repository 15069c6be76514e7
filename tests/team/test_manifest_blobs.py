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

from amlops.azure.manifest_blobs import BlobManifestStore
from amlops.errors import InvalidInput, MoveInProgress
from amlops.manifests import LocalManifestStore, open_store
from amlops.models import Workspace
from amlops.move import Inventory, MoveManifest, MoveRequest, build_plan
from tests.conftest import AZURITE_KEY, TARGET_SUB, WS_ID

ROOT = Path(__file__).parents[2]
LEASE = 15  # the shortest lease Azure grants, so the expiry test waits as little as possible

HOLDER = """
import sys, time
from amlops.azure.manifest_blobs import BlobManifestStore
from amlops.move import MoveManifest
store = BlobManifestStore.from_url(sys.argv[1], MoveManifest.model_validate_json, sys.argv[2], lease_seconds=15)
store.acquire(sys.argv[3], "move-1", "run-killed")
print("held", flush=True)
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
    store = _store(azurite)
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, store.container.url, AZURITE_KEY, WS_ID], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        time.sleep(LEASE + 3)  # longer than one lease: only the heartbeat keeps it
        with pytest.raises(MoveInProgress, match="run-killed"):
            store.acquire(WS_ID, "move-2", "run-next")
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait()
        with pytest.raises(MoveInProgress, match="run-killed"):
            store.acquire(WS_ID, "move-2", "run-next")  # a dead holder's lease is not broken, it runs out
        deadline = time.monotonic() + LEASE + 30
        while True:
            try:
                store.acquire(WS_ID, "move-2", "run-next")
                break
            except MoveInProgress:
                assert time.monotonic() < deadline, "the killed worker's lease never expired"
                time.sleep(1)
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
