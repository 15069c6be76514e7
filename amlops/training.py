"""Checkpointed training, as data and pure decisions.

Checkpoint layout, the contract with the training script: under the checkpoint path, one folder per
checkpoint named ``step-<N>`` (N an integer, zero-padded or not), and inside it a ``_COMPLETE`` marker
written last. A folder without the marker is partial (the node died while writing) and never resumed from.
"""

from __future__ import annotations

import re

from pydantic import Field

from amlops.models import Model

COMPLETE_MARKER = "_COMPLETE"
_STEP = re.compile(r"^step-(\d+)$")


class Checkpoint(Model):
    path: str  # blob prefix of the checkpoint folder, ending in '/'
    step: int
    complete: bool
    files: int = 0
    written_at: str = ""


def group_checkpoints(prefix: str, blobs: list[tuple[str, str]]) -> list[Checkpoint]:
    """Checkpoints from (blob name, last modified) pairs under ``prefix``, oldest step first."""
    base = prefix.rstrip("/") + "/" if prefix else ""
    found: dict[str, dict[str, object]] = {}
    for name, modified in blobs:
        if not name.startswith(base):
            continue
        folder, _, rest = name[len(base):].partition("/")
        m = _STEP.match(folder)
        if not m or not rest:
            continue
        entry = found.setdefault(folder, {"step": int(m.group(1)), "files": 0, "complete": False, "written_at": ""})
        entry["files"] = int(entry["files"]) + 1  # type: ignore[call-overload]
        entry["complete"] = bool(entry["complete"]) or rest == COMPLETE_MARKER
        entry["written_at"] = max(str(entry["written_at"]), modified)
    return sorted(
        (Checkpoint(path=f"{base}{folder}/", step=int(e["step"]), complete=bool(e["complete"]), files=int(e["files"]), written_at=str(e["written_at"])) for folder, e in found.items()),  # type: ignore[call-overload]
        key=lambda c: c.step,
    )


def latest_complete(checkpoints: list[Checkpoint]) -> Checkpoint | None:
    complete = [c for c in checkpoints if c.complete]
    return complete[-1] if complete else None


class CheckpointLocation(Model):
    """Where a lineage's checkpoints live: a datastore and a path inside its container."""

    datastore: str
    path: str = Field(description="folder inside the datastore's container, e.g. runs/forecast")

    def uri(self) -> str:
        return f"azureml://datastores/{self.datastore}/paths/{self.path.strip('/')}/"
