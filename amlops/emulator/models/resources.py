"""Microsoft.Resources: resource groups, provider registrations, generic resources."""

from __future__ import annotations

from typing import Any

from amlops.emulator import ids, lro
from amlops.emulator.errors import ArmError, bad_request, not_found
from amlops.emulator.models.common import arm_body, ensure_writable, require_group
from amlops.emulator.state import Operation, State

RG_TYPE = "Microsoft.Resources/resourceGroups"


def group_id(subscription: str, name: str) -> str:
    return f"/subscriptions/{subscription}/resourceGroups/{name}"


def put_group(state: State, subscription: str, name: str, body: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    state.subscription(subscription)
    location = (body or {}).get("location")
    if not location:
        raise bad_request("The resource group needs a 'location'.", "LocationRequired")
    rid = group_id(subscription, name)
    previous = state.store.get(rid)
    if previous is not None:
        ensure_writable(state, rid)
        if previous["location"].lower() != location.lower():
            raise ArmError(
                409,
                "InvalidResourceGroupLocation",
                f"Invalid resource group location '{location}'. The Resource group already exists in location "
                f"'{previous['location']}'.",
            )
        rid = previous["id"]
    group = arm_body(
        state, rid, RG_TYPE, {"provisioningState": "Succeeded"}, location=location, tags=body.get("tags"), previous=previous
    )
    group.pop("systemData")
    return state.store.put(group), previous is None


def get_group(state: State, subscription: str, name: str) -> dict[str, Any]:
    state.subscription(subscription)
    group = state.store.get(group_id(subscription, name))
    if group is None:
        raise not_found(name, "ResourceGroup")
    return group


def delete_group(state: State, subscription: str, name: str) -> Operation:
    group = get_group(state, subscription, name)
    ensure_writable(state, group["id"])

    def complete() -> None:
        for child in state.store.under(group["id"]):
            state.store.delete(child["id"])
        state.store.delete(group["id"])

    return lro.start(state, "resourcegroup.delete", subscription, complete, namespace="Microsoft.Resources")


def provider_body(state: State, subscription: str, namespace: str) -> dict[str, Any]:
    sub = state.subscription(subscription)
    name, registration = sub.registration(namespace)
    return {
        "id": f"/subscriptions/{subscription}/providers/{name}",
        "namespace": name,
        "registrationState": registration,
        "registrationPolicy": "RegistrationRequired",
        "resourceTypes": [],
    }


def register_provider(state: State, subscription: str, namespace: str) -> dict[str, Any]:
    sub = state.subscription(subscription)
    name, _ = sub.registration(namespace)
    sub.providers[name] = "Registered"
    return provider_body(state, subscription, name)


def list_providers(state: State, subscription: str) -> list[dict[str, Any]]:
    sub = state.subscription(subscription)
    return [provider_body(state, subscription, ns) for ns in sub.providers]


def get_resource(state: State, resource_id: str) -> dict[str, Any]:
    require_group(state, resource_id)
    return state.store.require(resource_id)


def put_resource(state: State, resource_id: str, body: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    group = require_group(state, resource_id)
    ensure_writable(state, resource_id)
    previous = state.store.get(resource_id)
    rtype = _type_from_id(resource_id)
    extra = {k: v for k, v in (body or {}).items() if k not in ("id", "name", "type", "properties", "location", "tags")}
    resource = arm_body(
        state,
        previous["id"] if previous else resource_id,
        rtype,
        (body or {}).get("properties") or {},
        location=(body or {}).get("location") or group["location"],
        tags=(body or {}).get("tags"),
        previous=previous,
        **extra,
    )
    return state.store.put(resource), previous is None


def delete_resource(state: State, resource_id: str) -> bool:
    require_group(state, resource_id)
    ensure_writable(state, resource_id)
    if state.store.delete(resource_id) is None:
        return False
    for child in state.store.under(resource_id):
        state.store.delete(child["id"])
    return True


def list_resources(state: State, scope: str, resource_type: str | None) -> list[dict[str, Any]]:
    """Top-level resources in a subscription or resource group, optionally of one type."""
    found = []
    for body in state.store:
        if body["type"] == RG_TYPE or not ids.is_under(body["id"], scope):
            continue
        if body["id"].lower().count("/providers/") != 1:  # children are not listed
            continue
        if body["type"].lower().startswith("microsoft.authorization/"):  # locks and assignments are extension resources, not listed
            continue
        if resource_type and body["type"].lower() != resource_type.lower():
            continue
        found.append(body)
    return found


def parse_type_filter(odata_filter: str | None) -> str | None:
    """Accepts ARM's ``resourceType eq 'X'`` filter, the one form amlops sends."""
    if not odata_filter:
        return None
    parts = odata_filter.split(" eq ", 1)
    if len(parts) != 2 or parts[0].strip().lower() != "resourcetype":
        raise bad_request(f"Unsupported $filter '{odata_filter}'; use resourceType eq 'Namespace/type'.", "InvalidFilter")
    return parts[1].strip().strip("'")


def _type_from_id(resource_id: str) -> str:
    """``.../providers/NS/t1/n1/t2/n2`` -> ``NS/t1/t2``."""
    after = resource_id.split("/providers/", 1)[-1].split("/")
    if len(after) < 3 or len(after) % 2 == 0:
        raise ArmError(400, "InvalidResourceId", f"'{resource_id}' is not a valid resource id.")
    return "/".join([after[0]] + after[1::2])
