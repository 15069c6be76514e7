"""Move manifests and the move lock in Azure Blob Storage: state a team's workers share.

A move suspended on one worker resumes on any other, so its manifest cannot live on one machine's disk.
The operator names a container (AMLOPS_STATE_URL, e.g. https://<account>.blob.core.windows.net/amlops-state;
a SAS query string works too); AMLOPS_STATE_KEY is an account key (Azurite's, in tests), else the
worker's Azure identity is used.

Layout: ``moves/<move id>/manifest.json`` and ``locks/<source workspace>.json``.

The lock is a blob lease (Lease Blob, x-ms-lease-action=acquire): the storage service grants it to one
caller at a time, atomically, so two workers can never both believe they hold it. A lease lasts 15-60 s
unless renewed; a thread renews it while the move runs (the heartbeat), and a killed worker simply stops
renewing, so its lease expires and another run may take over. Nobody breaks a live lease: a lease that
is still renewed belongs to a live run. The lease id is derived from the flow run id, so the same run
resumed on another worker holds the same lock (https://learn.microsoft.com/rest/api/storageservices/lease-blob).
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any, Generic, Protocol, TypeVar
from urllib.parse import urlsplit, urlunsplit

from azure.core.exceptions import AzureError, HttpResponseError, ResourceExistsError, ResourceNotFoundError
from azure.storage.blob import BlobClient, BlobLeaseClient, ContainerClient

from amlops.azure import recording
from amlops.errors import InvalidInput, MoveInProgress

LEASE_SECONDS = 60  # the longest finite lease Azure grants; a killed worker's lock frees within this


def lease_id_for(run_id: str) -> str:
    """One lease id per flow run: a run resumed in another process re-acquires (renews) its own lease."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"amlops-move-lock:{run_id}"))


def _lock_name(source: str) -> str:
    return "locks/" + source.strip("/").lower().replace("/", "_") + ".json"


class Manifest(Protocol):
    """What this store keeps: a model with a move id that serialises itself (amlops.move.MoveManifest)."""

    @property
    def move_id(self) -> str: ...

    def model_dump_json(self, *, indent: int | None = None) -> str: ...


M = TypeVar("M", bound=Manifest)


class BlobManifestStore(Generic[M]):
    """amlops.manifests.ManifestStore over a blob container. ``parse`` reads a manifest back (the gateway knows no
    decision module: the caller names the model)."""

    def __init__(self, container: ContainerClient, parse: Callable[[bytes], M], lease_seconds: int = LEASE_SECONDS) -> None:
        if not 15 <= lease_seconds <= 60:
            raise InvalidInput(f"A blob lease lasts 15 to 60 seconds, not {lease_seconds}.")
        self.container = container
        self.parse = parse
        self.lease_seconds = lease_seconds
        self._heartbeats: dict[str, threading.Event] = {}
        try:
            container.create_container()
        except ResourceExistsError:
            pass

    @classmethod
    def from_url(cls, url: str, parse: Callable[[bytes], M], account_key: str | None = None, lease_seconds: int = LEASE_SECONDS) -> BlobManifestStore[M]:
        parts = urlsplit(url)
        path = parts.path.strip("/").split("/")
        if parts.scheme not in ("https", "http") or not parts.netloc or not path[-1]:
            raise InvalidInput("AMLOPS_STATE_URL must name a blob container: https://<account>.blob.core.windows.net/<container>.")
        credential: Any
        if parts.query:
            credential = None  # a SAS token in the URL is the credential
        elif account_key:
            account = path[0] if len(path) > 1 else parts.netloc.split(".", 1)[0]  # Azurite puts the account in the path
            credential = {"account_name": account, "account_key": account_key}
        else:
            from azure.identity import DefaultAzureCredential

            credential = DefaultAzureCredential()
        return cls(ContainerClient.from_container_url(url, credential=credential, **recording.hooks()), parse, lease_seconds)

    @property
    def location(self) -> str:
        """Where the state lives, without any SAS token: safe for logs."""
        parts = urlsplit(self.container.url)
        return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))

    def path(self, move_id: str) -> str:
        return f"{self.location}/moves/{move_id}/manifest.json"

    def _blob(self, name: str) -> BlobClient:
        return self.container.get_blob_client(name)

    # -- manifests: whole-blob uploads are atomic, so a killed write leaves the previous manifest

    def save(self, manifest: M) -> str:
        self._blob(f"moves/{manifest.move_id}/manifest.json").upload_blob(manifest.model_dump_json(indent=2), overwrite=True)
        return self.path(manifest.move_id)

    def load(self, move_id: str) -> M | None:
        try:
            data = self._blob(f"moves/{move_id}/manifest.json").download_blob().readall()
        except ResourceNotFoundError:
            return None
        return self.parse(data)

    # -- the lock: one live move per source workspace

    def acquire(self, source: str, move_id: str, run_id: str, now: float | None = None) -> None:
        """Take the workspace's lease, or raise MoveInProgress naming who holds it."""
        blob = self._blob(_lock_name(source))
        try:
            blob.upload_blob(b"{}", overwrite=False)
        except (ResourceExistsError, HttpResponseError):
            pass  # it exists (leased or not): the lease decides, not the content
        lease = BlobLeaseClient(blob, lease_id=lease_id_for(run_id))
        try:
            lease.acquire(lease_duration=self.lease_seconds)
        except HttpResponseError as err:
            if err.status_code != 409:
                raise
            holder = self._holder(blob)
            raise MoveInProgress(
                f"Workspace {source} is already being moved by flow run {holder.get('run_id', '?')} (move {holder.get('move_id', '?')}, "
                f"host {holder.get('host', '?')}, pid {holder.get('pid', '?')}); its lease in {self.location} is alive. "
                f"Wait for it, or cancel that run first (a dead worker's lease expires within {self.lease_seconds} s).",
                code="MoveInProgress",
            ) from None
        mine = {"run_id": run_id, "move_id": move_id, "host": socket.gethostname(), "pid": os.getpid(), "acquired": time.time()}
        blob.upload_blob(json.dumps(mine), overwrite=True, lease=lease)
        self._start_heartbeat(source, run_id)

    @staticmethod
    def _holder(blob: BlobClient) -> dict[str, Any]:
        try:
            return dict(json.loads(blob.download_blob().readall() or b"{}"))
        except (ResourceNotFoundError, ValueError):
            return {}

    def heartbeat(self, source: str, run_id: str) -> bool:
        """Renew the lease now; False when this run no longer holds it (it expired and another run took it).

        A thread of this store also renews it every third of its duration: amlops.manifests.LeaseKeeper
        beats at the pace of the local store's 15-minute lease, longer than any blob lease."""
        try:
            BlobLeaseClient(self._blob(_lock_name(source)), lease_id=lease_id_for(run_id)).renew()
        except HttpResponseError as err:
            if err.status_code in (404, 409, 412):  # the lease is another's, or gone: Azure says so with these
                return False
            return True  # a transient answer (5xx): the lease outlives a missed beat; the next one tells
        except AzureError:
            return True  # the network, likewise
        return True

    def _start_heartbeat(self, source: str, run_id: str) -> None:
        key = f"{source.lower()}|{run_id}"
        if key in self._heartbeats:
            return
        stop = self._heartbeats[key] = threading.Event()

        def renew() -> None:
            while not stop.wait(self.lease_seconds / 3):
                try:
                    self.heartbeat(source, run_id)
                except AzureError:
                    continue  # a network blip: the lease outlives two missed beats

        threading.Thread(target=renew, name=f"amlops-lease-{run_id[:8]}", daemon=True).start()

    def release(self, source: str, run_id: str) -> None:
        stop = self._heartbeats.pop(f"{source.lower()}|{run_id}", None)
        if stop is not None:
            stop.set()
        try:
            BlobLeaseClient(self._blob(_lock_name(source)), lease_id=lease_id_for(run_id)).release()
        except HttpResponseError:
            pass  # held by another run, or already free: nothing of ours to release
