"""Checkpoints in blob storage: real azure-storage-blob against Azurite."""

from __future__ import annotations

import uuid

from amlops.azure import storage
from amlops.training import COMPLETE_MARKER, group_checkpoints, latest_complete
from tests.conftest import Env


def test_latest_complete_checkpoint_skips_a_partial_one(env: Env, azurite: str) -> None:
    client = storage.container(env.clients, "ignored-for-azurite", f"ckpt-{uuid.uuid4().hex[:8]}")
    client.create_container()
    for step, complete in ((100, True), (200, True), (300, False)):
        storage.write_blob(client, f"runs/forecast/step-{step:06d}/weights.bin", b"w" * step)
        if complete:
            storage.write_blob(client, f"runs/forecast/step-{step:06d}/{COMPLETE_MARKER}", b"")
    storage.write_blob(client, "runs/other/step-000900/_COMPLETE", b"")  # another lineage's
    found = group_checkpoints("runs/forecast", storage.list_blobs(client, "runs/forecast"))
    assert [(c.step, c.complete) for c in found] == [(100, True), (200, True), (300, False)]
    latest = latest_complete(found)
    assert latest is not None and latest.step == 200 and latest.path == "runs/forecast/step-000200/"


def test_grouping_ignores_what_is_not_a_checkpoint() -> None:
    blobs = [("p/step-7/a", "1"), ("p/step-7/_COMPLETE", "2"), ("p/notes.txt", "3"), ("p/step-x/a", "4"), ("q/step-9/_COMPLETE", "5"), ("p/step-12/a", "6")]
    found = group_checkpoints("p", blobs)
    assert [(c.step, c.complete, c.files) for c in found] == [(7, True, 2), (12, False, 1)]
    latest = latest_complete(found)
    assert latest is not None and latest.step == 7
    assert latest_complete([]) is None
