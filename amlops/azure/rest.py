"""Raw ARM requests through the real SDK pipeline (auth, our retry policy, logging).

For operations azure-mgmt-resource has no typed method for (role assignments, metrics,
compute actions) and for reading bodies exactly as Azure sends them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Generic, TypeVar
from urllib.parse import urlencode

from azure.core.exceptions import HttpResponseError
from azure.core.rest import HttpRequest

from amlops.azure.clients import Clients
from amlops.azure.errors import azure_errors, translate
from amlops.azure.retry import Kind
from amlops.models import ResourceId

# API versions amlops speaks, one place to change them.
ML_API = "2024-10-01"
AUTH_API = "2022-04-01"
METRICS_API = "2023-10-01"


def child_path(workspace: ResourceId, segment: str, name: str = "") -> str:
    """``{workspace}/{segment}[/{name}]``: where a workspace's computes, jobs, datastores... live."""
    return f"{workspace.require_workspace()}/{segment}" + (f"/{name}" if name else "")


def list_children(clients: Clients, workspace: ResourceId, segment: str, query: dict[str, str] | None = None, api_version: str = ML_API) -> Iterator[dict[str, Any]]:
    """Every item of one of a workspace's collections (computes, jobs, datastores...), as Azure sends it."""
    return pages(clients, workspace.subscription, child_path(workspace, segment), api_version, query)


def get_child(clients: Clients, workspace: ResourceId, segment: str, name: str, api_version: str = ML_API) -> Any:
    """One item of a workspace's collection, by name, as Azure sends it."""
    return send(clients, workspace.subscription, "GET", child_path(workspace, segment, name), api_version)


T = TypeVar("T")


@dataclass(frozen=True)
class Collection(Generic[T]):
    """One kind of a workspace's child resources: where they live, and how Azure's body becomes amlops' model."""

    segment: str  # computes, jobs, datastores, ...
    parse: Callable[[dict[str, Any]], T]

    def path(self, workspace: ResourceId, name: str = "") -> str:
        return child_path(workspace, self.segment, name)

    def list(self, clients: Clients, workspace: ResourceId, query: dict[str, str] | None = None) -> list[T]:
        return [self.parse(b) for b in list_children(clients, workspace, self.segment, query)]

    def get(self, clients: Clients, workspace: ResourceId, name: str) -> T:
        return self.parse(get_child(clients, workspace, self.segment, name))


def full_url(clients: Clients, path: str, api_version: str, query: dict[str, str] | None = None) -> str:
    """The target's full URL of an ARM path at an api-version."""
    return f"{clients.target.url}{path}?{urlencode({'api-version': api_version, **(query or {})})}"


def send(
    clients: Clients, subscription: str, method: str, path: str, api_version: str, body: Any = None, query: dict[str, str] | None = None, *, kind: Kind | None = None
) -> Any:
    """One request; returns the parsed JSON body (or None). ARM errors become amlops errors. ``kind`` declares what
    the call does (amlops.azure.retry); a GET needs none, it is a read."""
    request = HttpRequest(method, full_url(clients, path, api_version, query), json=body)
    with azure_errors(kind):
        response = clients.arm(subscription).send_request(request)
        if response.status_code >= 400:
            raise translate(HttpResponseError(response=response))
        return response.json() if response.content else None


def pages(clients: Clients, subscription: str, path: str, api_version: str, query: dict[str, str] | None = None) -> Iterator[dict[str, Any]]:
    """Every item of an ARM collection, following nextLink."""
    url: str | None = full_url(clients, path, api_version, query)
    with azure_errors(Kind.READ):
        while url:
            response = clients.arm(subscription).send_request(HttpRequest("GET", url))
            if response.status_code >= 400:
                raise translate(HttpResponseError(response=response))
            body = response.json()
            yield from body.get("value", [])
            url = body.get("nextLink")


def get_by_id(clients: Clients, resource_id: str, api_version: str) -> dict[str, Any]:
    subscription = resource_id.split("/")[2]
    return send(clients, subscription, "GET", resource_id, api_version)


def ml_data_plane(clients: Clients, workspace: ResourceId, path: str, method: str = "GET", body: Any = None, *, kind: Kind | None = None) -> Any:
    """A request to Azure ML's regional data plane (run history, model management): ``{region host}{path}`` where
    path starts with ``/history/...`` or ``/modelmanagement/...``; through the ARM pipeline (credential, retries, pacing)."""
    ws = str(workspace.require_workspace())
    location = "" if clients.target.is_emulator else clients._cached(("location", ws.lower()), lambda: get_by_id(clients, ws, ML_API).get("location", ""))
    url = clients.target.ml_api_url(location) + path
    with azure_errors(kind):
        response = clients.arm(workspace.subscription).send_request(HttpRequest(method, url, json=body))
        if response.status_code >= 400:
            raise translate(HttpResponseError(response=response))
        return response.json() if response.content else {}
