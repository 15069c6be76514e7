"""Datastores. Secrets are kept apart and handed out only by listSecrets, as Azure does."""

from __future__ import annotations

import copy
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
    secrets = credentials.get("secrets")
    if secrets:
        state.secrets[ids.key(did)] = dict(secrets)
        credentials["secrets"] = {"secretsType": secrets.get("secretsType")}
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


def list_secrets(state: State, workspace_id: str, name: str) -> dict[str, Any]:
    datastore = get_datastore(state, workspace_id, name)
    secrets = state.secrets.get(ids.key(datastore["id"]))
    if secrets is None:
        return {"secretsType": "None"}
    return dict(secrets)
