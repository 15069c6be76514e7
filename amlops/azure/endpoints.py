"""Online endpoints with their deployments, batch endpoints, and the request metrics Azure Monitor keeps."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

from amlops.azure import operations, rest
from amlops.azure.clients import Clients
from amlops.azure.errors import azure_errors
from amlops.azure.retry import Kind
from amlops.models import BatchEndpoint, Deployment, OnlineEndpoint, ResourceId

READ_ONLY = {"provisioningState", "scoringUri", "swaggerUri", "openapiUri", "mirrorTraffic_"}
READ_ONLY_DEPLOYMENT = {"provisioningState"}


def _path(workspace: ResourceId, name: str = "", kind: str = "onlineEndpoints") -> str:
    return rest.child_path(workspace, kind, name)


def _deployment(body: dict[str, Any]) -> Deployment:
    props = {k: v for k, v in (body.get("properties") or {}).items() if k not in READ_ONLY_DEPLOYMENT}
    return Deployment(name=body["name"], properties=props, sku=body.get("sku"), tags=body.get("tags") or {}, kind=body.get("kind"))


def _endpoint(body: dict[str, Any], deployments: list[Deployment]) -> OnlineEndpoint:
    props = body.get("properties") or {}
    identity = body.get("identity")
    return OnlineEndpoint(
        name=body["name"],
        auth_mode=props.get("authMode", ""),
        location=body.get("location", ""),
        traffic=props.get("traffic") or {},
        description=props.get("description"),
        tags=body.get("tags") or {},
        identity={k: v for k, v in identity.items() if k in ("type", "userAssignedIdentities")} if identity else None,
        kind=body.get("kind"),
        principal_id=(identity or {}).get("principalId") if "systemassigned" in str((identity or {}).get("type", "")).lower() else None,
        create_properties={k: v for k, v in props.items() if k not in READ_ONLY and v is not None},
        deployments=deployments,
    )


def list_online_endpoints(clients: Clients, workspace: ResourceId) -> list[OnlineEndpoint]:
    """Every online endpoint with its deployments and traffic split: enough to redeploy it."""
    found = []
    for body in rest.list_children(clients, workspace, "onlineEndpoints"):
        # By name: Azure lists deployments in no promised order, and they are created concurrently.
        deployments = sorted((_deployment(d) for d in rest.list_children(clients, workspace, f"onlineEndpoints/{body['name']}/deployments")), key=lambda d: d.name)
        found.append(_endpoint(body, deployments))
    return found


def delete_online_endpoint(clients: Clients, workspace: ResourceId, name: str) -> None:
    """Through amlops' operation follower, not azure-ai-ml's poller: that one sleeps 5 s of real time between polls
    unless Azure sends retry-after-ms, which it does not (online_endpoint_e2e.json)."""
    operations.delete(clients, _path(workspace, name), rest.ML_API)


def create_online_endpoint(clients: Clients, workspace: ResourceId, endpoint: OnlineEndpoint, location: str, on_deployments_sent: Callable[[], None] = lambda: None) -> None:
    """Create the endpoint, its deployments (concurrently), then its traffic split and mirror traffic: Azure refuses
    either naming a deployment that does not exist yet, so the first PUT carries neither. ``on_deployments_sent`` is
    called once Azure has answered every deployment's PUT (with none, once the endpoint is created), not on failure."""
    path = _path(workspace, endpoint.name)
    first = {k: v for k, v in endpoint.create_properties.items() if k != "mirrorTraffic"}
    body: dict[str, Any] = {"location": location, "tags": endpoint.tags, "properties": {**first, "traffic": {}}, "kind": endpoint.kind}
    if endpoint.identity:
        body["identity"] = endpoint.identity
    operations.put(clients, path, rest.ML_API, body, read=False)
    unanswered, lock = [len(endpoint.deployments)], threading.Lock()
    if not endpoint.deployments:
        on_deployments_sent()

    def answered() -> None:
        with lock:
            unanswered[0] -= 1
            last = unanswered[0] == 0
        if last:
            on_deployments_sent()

    def deploy(d: Deployment) -> None:
        deployment = {"location": location, "properties": d.properties, "sku": d.sku, "tags": d.tags, "kind": d.kind}
        operations.put(clients, f"{path}/deployments/{d.name}", rest.ML_API, deployment, on_answered=answered, read=False)

    with ThreadPoolExecutor(max_workers=max(1, min(8, len(endpoint.deployments)))) as pool:
        list(pool.map(deploy, endpoint.deployments))  # list() re-raises the first failure
    if endpoint.traffic or endpoint.mirror_traffic:
        body["properties"] |= {"traffic": endpoint.traffic} | ({"mirrorTraffic": endpoint.mirror_traffic} if endpoint.mirror_traffic else {})
        operations.put(clients, path, rest.ML_API, body, read=False)


def list_batch_endpoints(clients: Clients, workspace: ResourceId) -> list[BatchEndpoint]:
    """Batch endpoints with their deployments (whose compute, model and code are ARM ids a move leaves stale)."""
    ml = clients.ml(workspace.subscription, workspace.resource_group, workspace.name)
    with azure_errors(Kind.READ):
        found = list(ml.batch_endpoints.list())
    return [
        BatchEndpoint(
            name=e.name, auth_mode=e.auth_mode or "", location=e.location or "",
            deployments=[_deployment(d) for d in rest.list_children(clients, workspace, f"batchEndpoints/{e.name}/deployments")],
        )
        for e in found
    ]


def put_batch_deployment(clients: Clients, workspace: ResourceId, endpoint: str, deployment: Deployment, location: str) -> None:
    path = _path(workspace, endpoint, kind="batchEndpoints") + f"/deployments/{deployment.name}"
    operations.put(clients, path, rest.ML_API, {"location": location, "properties": deployment.properties, "tags": deployment.tags}, read=False)


def request_count(clients: Clients, workspace: ResourceId, endpoint: str, window: timedelta, now: datetime | None = None) -> int | None:
    """Requests an online endpoint served in the last ``window``, as Azure Monitor counts them; None when
    Azure Monitor has no data for the window at all (an empty timeseries, or no point with a total), which
    is not the same as zero requests (Azure Monitor metrics REST API: a time grain without data carries no
    aggregation value)."""
    end = now or datetime.now(UTC)
    timespan = f"{(end - window).isoformat()}/{end.isoformat()}".replace("+00:00", "Z")
    path = _path(workspace, endpoint) + "/providers/Microsoft.Insights/metrics"
    body = rest.send(
        clients, workspace.subscription, "GET", path, rest.METRICS_API,
        query={"metricnames": "RequestsPerMinute", "timespan": timespan, "aggregation": "Total", "interval": "PT1M"},
    )
    totals = [
        point["total"]
        for metric in body.get("value", [])
        for series in metric.get("timeseries", [])
        for point in series.get("data", [])
        if point.get("total") is not None
    ]
    return int(sum(totals)) if totals else None
