"""Datastores. Secrets are kept apart and handed out only by listSecrets, as Azure does."""

from __future__ import annotations

import copy
import hashlib
from datetime import UTC, datetime
from typing import Any

from amlops.emulator import ids
from amlops.emulator.errors import bad_request
from amlops.emulator.models.common import (
    WORKSPACE_TYPE,
    arm_body,
    get_child,
    list_children,
    writable_child,
)
from amlops.emulator.state import State

TYPES = {"AzureBlob", "AzureFile", "AzureDataLakeGen1", "AzureDataLakeGen2", "OneLake"}


def datastore_id(workspace_id: str, name: str) -> str:
    return f"{workspace_id}/datastores/{name}"


def put_datastore(state: State, workspace_id: str, name: str, body: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    workspace, did = writable_child(state, workspace_id, "datastores", name)
    props = copy.deepcopy((body or {}).get("properties") or {})
    if props.get("datastoreType") not in TYPES:
        raise bad_request(f"datastoreType must be one of {sorted(TYPES)}.", "InvalidDatastoreType")
    credentials = props.get("credentials") or {"credentialsType": "None"}
    secrets = credentials.pop("secrets", None)
    if secrets:
        state.secrets[ids.key(did)] = dict(secrets)
    # Azure answers credentials with their type only, no secrets stub (datastore_blob.json: "credentials":
    # {"credentialsType": "AccountKey"} in the PUT's answer and every GET); listSecrets hands the secret out.
    props["credentials"] = credentials
    previous = state.store.get(did)
    props["isDefault"] = bool((previous or {}).get("properties", {}).get("isDefault", False))
    datastore = arm_body(state, did, f"{WORKSPACE_TYPE}/datastores", props, previous=previous)
    return state.store.put(datastore), previous is None


def get_datastore(state: State, workspace_id: str, name: str) -> dict[str, Any]:
    return get_child(state, workspace_id, "datastores", name, "Datastore")


def list_datastores(state: State, workspace_id: str, is_default: bool | None = None) -> list[dict[str, Any]]:
    found = list_children(state, workspace_id, "datastores")
    if is_default is not None:
        found = [d for d in found if d["properties"].get("isDefault", False) == is_default]
    return found


def delete_datastore(state: State, workspace_id: str, name: str) -> bool:
    _, did = writable_child(state, workspace_id, "datastores", name)
    existing = state.store.get(did)
    if existing is None:
        return False
    if existing["properties"].get("isDefault"):
        raise bad_request(f"'{name}' is the workspace's default datastore and cannot be unregistered.", "CannotDeleteDefaultDatastore")
    state.secrets.pop(ids.key(did), None)
    state.store.delete(did)
    return True


def list_secrets(state: State, workspace_id: str, name: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    """The datastore's secret. Asked with ``{"expirableSecret": true, "expireAfterHours": N}``, Azure answers a
    blob datastore held by an account key with a SAS instead: ``{"secretsType": "Sas", "sasToken": "?sv=...&sig=...
    &se=...&srt=co&ss=bf&sp=rcuwdl"}`` (datastore_blob.json)."""
    datastore = get_datastore(state, workspace_id, name)
    secrets = state.secrets.get(ids.key(datastore["id"]))
    if secrets is None:
        return {"secretsType": "None"}
    if (body or {}).get("expirableSecret") and secrets.get("secretsType") == "AccountKey":
        hours = float((body or {}).get("expireAfterHours") or 1)
        expiry = datetime.fromtimestamp(state.clock.now() + hours * 3600, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        signature = hashlib.sha256(f"{secrets.get('key')}|{datastore['id']}|{expiry}".encode()).hexdigest()[:43]
        return {"secretsType": "Sas", "sasToken": f"?sv=2021-08-06&sig={signature}&se={expiry}&srt=co&ss=bf&sp=rcuwdl"}
    return dict(secrets)
