"""Blob storage behind a datastore (azure-storage-blob): list checkpoints, read and write blobs.

Real Azure: https://<account>.blob.<the cloud's storage suffix> with the caller's Azure identity. The emulator
target: Azurite at AMLOPS_BLOB_URL with its well-known development account key (AMLOPS_BLOB_KEY).
"""

from __future__ import annotations

import os
from datetime import datetime

from azure.storage.blob import ContainerClient

from amlops.azure import recording
from amlops.azure.clients import Clients
from amlops.azure.errors import azure_errors
from amlops.errors import InvalidInput, NotFound
from amlops.models import COMPLETE_MARKER, Checkpoint


def container(clients: Clients, account: str, name: str) -> ContainerClient:
    if clients.target.is_emulator:
        url, key = os.environ.get("AMLOPS_BLOB_URL"), os.environ.get("AMLOPS_BLOB_KEY")
        if not url or not key:
            raise InvalidInput("The emulator target needs AMLOPS_BLOB_URL and AMLOPS_BLOB_KEY for Azurite (the test and demo set-up export them).")
        account_name = url.rstrip("/").rsplit("/", 1)[-1]
        return ContainerClient(url.rstrip("/"), name, credential={"account_name": account_name, "account_key": key}, **recording.hooks())
    return ContainerClient(clients.target.blob_url(account), name, credential=clients.credential(), **recording.hooks())


def list_blobs(client: ContainerClient, prefix: str) -> list[tuple[str, str]]:
    """(name, Last-Modified) of every blob under the folder ``prefix`` (amlops.training.group_checkpoints reads them)."""
    base = prefix.strip("/") + "/" if prefix.strip("/") else ""
    try:
        with azure_errors():
            return [(b.name, b.last_modified.isoformat()) for b in client.list_blobs(name_starts_with=base)]
    except NotFound:
        return []  # the script has not created its container yet: no checkpoint, start from the beginning


def completed_at(client: ContainerClient, checkpoint: Checkpoint) -> str:
    """When the checkpoint was complete: the time its marker holds, else the blob's Last-Modified."""
    try:
        with azure_errors():
            text = client.download_blob(checkpoint.path + COMPLETE_MARKER).readall().decode(errors="replace").strip()
        datetime.fromisoformat(text.replace("Z", "+00:00"))
    except (NotFound, ValueError):
        return checkpoint.written_at
    return text


def write_blob(client: ContainerClient, name: str, data: bytes) -> None:
    with azure_errors():
        client.upload_blob(name, data, overwrite=True)
