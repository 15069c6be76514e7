"""Durable move manifests on disk, and the lock that keeps two moves of one workspace apart.

Writes are atomic (temp file, fsync, rename), so a run killed mid-write leaves the previous
manifest intact. The lock is a lease: it names its holder (host, pid, flow run) and is taken
over only when that holder is provably gone (same host, dead pid) or its lease has expired.
Taking it is atomic (an flock around read-decide-write), and a `LeaseKeeper` thread renews it
while the run works or waits for a person.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

from pydantic import ValidationError

from amlops.errors import MoveInProgress, MoveNeedsAPerson
from amlops.move import MoveManifest

LEASE_SECONDS = 15 * 60


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


def read_manifest(data: str | bytes) -> MoveManifest:
    """A manifest as saved; one written by an amlops older than the plan-as-items move (no plan in it) is said so."""
    try:
        return MoveManifest.model_validate_json(data)
    except ValidationError as err:
        raise MoveNeedsAPerson(
            "This move's manifest was written by an older amlops and cannot be resumed by this one (README: Moving a workspace). "
            "Finish it with the version that started it, or remove the manifest once the workspace is settled and plan the move again."
        ) from err


class ManifestStore(Protocol):
    """Where a move's manifest and lock live: a local directory (LocalManifestStore) or a team's blob container
    (amlops.azure.manifest_blobs.BlobManifestStore)."""

    def path(self, move_id: str) -> Path | str: ...
    def save(self, manifest: MoveManifest) -> Path | str: ...
    def load(self, move_id: str) -> MoveManifest | None: ...
    def acquire(self, source: str, move_id: str, run_id: str, now: float | None = None) -> None: ...
    def heartbeat(self, source: str, run_id: str) -> bool: ...
    def release(self, source: str, run_id: str) -> None: ...


class LocalManifestStore:
    """Manifests and locks in a directory of this machine (AMLOPS_STATE_DIR, default ~/.amlops)."""

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
        return read_manifest(path.read_text())

    # -- the lock: one live move per source workspace

    def _lock_path(self, source: str) -> Path:
        safe = source.strip("/").lower().replace("/", "_")
        return self.root / "locks" / f"{safe}.json"

    @contextlib.contextmanager
    def _exclusive(self, source: str) -> Iterator[Path]:
        """Serialise every read-decide-write of one workspace's lock file across processes (flock)."""
        path = self._lock_path(source)
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path.with_suffix(".mutex"), "w") as mutex:
            fcntl.flock(mutex, fcntl.LOCK_EX)
            try:
                yield path
            finally:
                fcntl.flock(mutex, fcntl.LOCK_UN)

    def acquire(self, source: str, move_id: str, run_id: str, now: float | None = None) -> None:
        """Take the workspace's lock, or raise MoveInProgress naming who holds it."""
        now = time.time() if now is None else now
        with self._exclusive(source) as path:
            holder = json.loads(path.read_text()) if path.exists() else None
            if holder and holder["run_id"] != run_id and self._holder_alive(holder, now):
                raise MoveInProgress(
                    f"Workspace {source} is already being moved by flow run {holder['run_id']} (move {holder['move_id']}, "
                    f"host {holder['host']}, pid {holder['pid']}). Wait for it, or cancel that run first."
                )
            mine = {"run_id": run_id, "move_id": move_id, "host": socket.gethostname(), "pid": os.getpid(), "heartbeat": now}
            _write_atomic(path, json.dumps(mine))

    def heartbeat(self, source: str, run_id: str) -> bool:
        """Renew the lease; False when this run no longer holds it (it expired and someone took it)."""
        with self._exclusive(source) as path:
            if not path.exists():
                return False
            holder = json.loads(path.read_text())
            if holder["run_id"] != run_id:
                return False
            holder.update(heartbeat=time.time(), pid=os.getpid(), host=socket.gethostname())
            _write_atomic(path, json.dumps(holder))
            return True

    def release(self, source: str, run_id: str) -> None:
        with self._exclusive(source) as path:
            if path.exists() and json.loads(path.read_text())["run_id"] == run_id:
                path.unlink()

    @staticmethod
    def _holder_alive(holder: dict[str, Any], now: float) -> bool:
        if holder["host"] == socket.gethostname() and not _pid_alive(int(holder["pid"])):
            return False
        return now - float(holder["heartbeat"]) < LEASE_SECONDS


class LeaseKeeper:
    """Renews a move's lease in the background while the run works, waits on Azure, or waits for a person.

    Renewing only between steps would let a lease expire inside a step longer than the lease (a move
    Azure takes an hour over, a plan a person reads overnight) and a second run take over mid-step.
    """

    def __init__(self, store: ManifestStore, source: str, run_id: str, every: float = LEASE_SECONDS / 5) -> None:
        self.store, self.source, self.run_id, self.every = store, source, run_id, every
        self.lost = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="amlops-lease", daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            try:
                self.lost = not self.store.heartbeat(self.source, self.run_id)
            except OSError:
                continue  # a full disk or a blip: try again at the next beat; the lease is long

    def __enter__(self) -> LeaseKeeper:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


def open_store(env: dict[str, str] | None = None) -> ManifestStore:
    """The move state a run should use: a blob container shared by a team's workers when AMLOPS_STATE_URL
    names one (amlops.azure.manifest_blobs), else the local directory (AMLOPS_STATE_DIR or ~/.amlops)."""
    env = dict(os.environ if env is None else env)
    url = env.get("AMLOPS_STATE_URL", "").strip()
    if not url:
        return LocalManifestStore(Path(env["AMLOPS_STATE_DIR"]) if env.get("AMLOPS_STATE_DIR") else None)
    from amlops.azure.manifest_blobs import BlobManifestStore

    return BlobManifestStore.from_url(url, read_manifest, env.get("AMLOPS_STATE_KEY") or None)
