"""Durable move manifests on disk, and the lock that keeps two moves of one workspace apart.

Writes are atomic (temp file, fsync, rename), so a run killed mid-write leaves the previous
manifest intact. The lock is a lease: it names its holder (host, pid, flow run) and is taken
over only when that holder is provably gone (same host, dead pid) or its lease has expired.
"""

from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path
from typing import Any

from amlops.azure.errors import AmlopsError
from amlops.move import MoveManifest

LEASE_SECONDS = 15 * 60


class MoveInProgress(AmlopsError):
    """Another live run is moving this workspace."""


def default_root() -> Path:
    return Path(os.environ.get("AMLOPS_STATE_DIR") or Path.home() / ".amlops")


def _write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + f".{os.getpid()}.tmp")
    with open(tmp, "w") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class ManifestStore:
    def __init__(self, root: Path | None = None) -> None:
        self.root = (root or default_root()) / "moves"

    def path(self, move_id: str) -> Path:
        return self.root / move_id / "manifest.json"

    def save(self, manifest: MoveManifest) -> Path:
        path = self.path(manifest.move_id)
        _write_atomic(path, manifest.model_dump_json(indent=2))
        return path

    def load(self, move_id: str) -> MoveManifest | None:
        path = self.path(move_id)
        if not path.exists():
            return None
        return MoveManifest.model_validate_json(path.read_text())

    # -- the lock: one live move per source workspace

    def _lock_path(self, source: str) -> Path:
        safe = source.strip("/").lower().replace("/", "_")
        return self.root / "locks" / f"{safe}.json"

    def acquire(self, source: str, move_id: str, run_id: str, now: float | None = None) -> None:
        """Take the workspace's lock, or raise MoveInProgress naming who holds it."""
        now = time.time() if now is None else now
        path = self._lock_path(source)
        holder = json.loads(path.read_text()) if path.exists() else None
        if holder and holder["run_id"] != run_id and self._holder_alive(holder, now):
            raise MoveInProgress(
                f"Workspace {source} is already being moved by flow run {holder['run_id']} (move {holder['move_id']}, "
                f"host {holder['host']}, pid {holder['pid']}). Wait for it, or cancel that run first.",
                code="MoveInProgress",
            )
        mine = {"run_id": run_id, "move_id": move_id, "host": socket.gethostname(), "pid": os.getpid(), "heartbeat": now}
        _write_atomic(path, json.dumps(mine))

    def heartbeat(self, source: str, run_id: str) -> None:
        path = self._lock_path(source)
        if path.exists():
            holder = json.loads(path.read_text())
            if holder["run_id"] == run_id:
                holder["heartbeat"] = time.time()
                _write_atomic(path, json.dumps(holder))

    def release(self, source: str, run_id: str) -> None:
        path = self._lock_path(source)
        if path.exists() and json.loads(path.read_text())["run_id"] == run_id:
            path.unlink()

    @staticmethod
    def _holder_alive(holder: dict[str, object], now: float) -> bool:
        if holder["host"] == socket.gethostname() and not _pid_alive(int(holder["pid"])):  # type: ignore[arg-type]
            return False
        return now - float(holder["heartbeat"]) < LEASE_SECONDS  # type: ignore[arg-type]


def open_store(env: dict[str, str] | None = None) -> Any:
    """The move state a run should use: a blob container shared by a team's workers when AMLOPS_STATE_URL
    names one (amlops.azure.manifest_blobs), else the local directory (AMLOPS_STATE_DIR or ~/.amlops)."""
    env = dict(os.environ if env is None else env)
    url = env.get("AMLOPS_STATE_URL", "").strip()
    if not url:
        return ManifestStore(Path(env["AMLOPS_STATE_DIR"]) if env.get("AMLOPS_STATE_DIR") else None)
    from amlops.azure.manifest_blobs import BlobManifestStore

    return BlobManifestStore.from_url(url, env.get("AMLOPS_STATE_KEY") or None)
