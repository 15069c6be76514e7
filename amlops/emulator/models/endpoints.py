"""Online endpoints with their deployments, and batch endpoints."""

from __future__ import annotations

from typing import Any

from amlops.emulator import ids, lro
from amlops.emulator.errors import ArmError, bad_request
from amlops.emulator.models.common import (
    WORKSPACE_TYPE,
    arm_body,
    ensure_writable,
    list_children,
    provision,
    require_child,
    require_workspace,
    writable_child,
)
from amlops.emulator.state import Operation, State

ONLINE = "onlineEndpoints"
BATCH = "batchEndpoints"
AUTH_MODES = {"key": "Key", "amltoken": "AMLToken", "aadtoken": "AADToken"}


def endpoint_id(workspace_id: str, kind: str, name: str) -> str:
    return f"{workspace_id}/{kind}/{name}"


def put_endpoint(
    state: State, workspace_id: str, kind: str, name: str, body: dict[str, Any], fail_with: ArmError | None = None
) -> tuple[dict[str, Any], Operation, bool]:
    workspace, eid = writable_child(state, workspace_id, kind, name)
    props = dict((body or {}).get("properties") or {})
    if kind == BATCH:
        props.setdefault("authMode", "AADToken")  # a batch endpoint authenticates with Microsoft Entra tokens only
    if not props.get("authMode"):
        raise bad_request("An endpoint needs properties.authMode (Key, AMLToken or AADToken).", "InvalidEndpointSpec")
    # Azure answers the auth mode in its own spelling (issue 18's batch endpoint session: AADToken).
    props["authMode"] = AUTH_MODES.get(str(props["authMode"]).lower(), props["authMode"])
    previous = state.store.get(eid)
    _check_mirror(state, eid, workspace_id, props.get("mirrorTraffic") or {})
    props["provisioningState"] = "Creating" if previous is None else "Updating"
    host = f"{name}.{workspace['location']}.inference.ml.azure.com"
    props["scoringUri"] = f"https://{host}/score"
    props.setdefault("traffic", {})
    if previous is not None:  # a new endpoint has no deployments yet; Azure checks traffic on updates
        _check_traffic(state, eid, props["traffic"])
    endpoint = arm_body(
        state, eid, f"{WORKSPACE_TYPE}/{kind}", props,
        location=(body or {}).get("location") or workspace["location"], tags=(body or {}).get("tags") or {},
        previous=previous, identity=_identity(state, eid, body, previous),
        # An online endpoint the client sent no kind for is answered "kind": "Managed" (online_endpoint_e2e.json).
        kind=(body or {}).get("kind") or ("Managed" if kind == ONLINE else None),
    )
    if endpoint.get("kind") is None:
        endpoint.pop("kind")
    state.store.put(endpoint)

    def complete() -> dict[str, Any]:
        endpoint["properties"]["provisioningState"] = "Succeeded"
        return endpoint

    def failed() -> None:
        endpoint["properties"]["provisioningState"] = "Failed"

    # A PUT of an endpoint that exists (a traffic update) is an update, "endpoint.create.update"; a new one online or batch.
    what = "update" if previous is not None else ("online" if kind == ONLINE else "batch")
    op = lro.start(state, f"endpoint.create.{what}", ids.subscription_of(eid) or "", complete, location=endpoint["location"], fail_with=fail_with, on_fail=failed, key=eid)
    return endpoint, op, previous is None


def _identity(state: State, endpoint_id_: str, body: dict[str, Any], previous: dict[str, Any] | None) -> dict[str, Any]:
    """An endpoint's managed identity: system-assigned unless the body says otherwise ("Access Azure resources from an
    online endpoint with a managed identity": a system-assigned identity is made with the endpoint and deleted with
    it). principalId and tenantId are readOnly (ManagedServiceIdentity, ARM common types), made by Azure: a new
    endpoint gets a new principal, an update keeps its own."""
    identity = dict((body or {}).get("identity") or {"type": "SystemAssigned"})
    if "systemassigned" in identity.get("type", "").lower():
        had = (previous or {}).get("identity") or {}
        identity["principalId"] = had.get("principalId") or state.new_id()
        identity["tenantId"] = state.subscription(ids.subscription_of(endpoint_id_) or "").tenant_id
    return identity


def _check_traffic(state: State, endpoint_id_: str, traffic: dict[str, int]) -> None:
    if not traffic:
        return
    if sum(traffic.values()) != 100:
        raise bad_request(f"Traffic percentages must add up to 100, not {sum(traffic.values())}.", "InvalidTraffic")
    missing = [d for d in traffic if state.store.get(f"{endpoint_id_}/deployments/{d}") is None]
    if missing:
        raise bad_request(f"Traffic names deployments that do not exist: {missing}.", "InvalidTraffic")


def _not_found(message: str, inner: str = "NotFound") -> ArmError:
    """Azure ML's endpoints service answers a missing endpoint or deployment 404 with its general code UserError and an
    inner NotFound: for an endpoint "An endpoint with the name 'e' does not exist in the workspace 'w'. Please check
    the endpoint name and also ensure the current user has access to it.", inner NotFound/EndpointNotFound (the GET
    after a delete in batch_endpoint_create_delete.json); for a deployment "Deployment d not found in endpoint e,
    workspace w" (seen in Azure-Samples/contoso-chat#139)."""
    return ArmError(404, "UserError", message, inner=inner)


def get_endpoint(state: State, workspace_id: str, kind: str, name: str) -> dict[str, Any]:
    workspace = require_workspace(state, workspace_id)
    endpoint = state.store.get(endpoint_id(workspace["id"], kind, name))
    if endpoint is None:
        raise _not_found(
            f"An endpoint with the name '{name}' does not exist in the workspace '{workspace['name']}'. "
            "Please check the endpoint name and also ensure the current user has access to it.",
            "NotFound/EndpointNotFound",
        )
    return endpoint


def _check_mirror(state: State, endpoint_id_: str, workspace_id: str, mirror: dict[str, int]) -> None:
    """mirrorTraffic names deployments of this endpoint: one that does not exist (yet) is refused as a missing
    deployment is (_not_found), on an endpoint's first PUT too."""
    for deployment in mirror:
        if state.store.get(f"{endpoint_id_}/deployments/{deployment}") is None:
            raise _not_found(f"Deployment {deployment} not found in endpoint {ids.name_of(endpoint_id_)}, workspace {ids.name_of(workspace_id)}")


def token(state: State, workspace_id: str, name: str) -> dict[str, Any]:
    """POST onlineEndpoints/{name}/token: 200 with accessToken, tokenType Bearer, expiryTimeUtc about 24 h ahead and
    refreshAfterTimeUtc about 12 h ahead, in epoch seconds (online_endpoint_e2e.json). Only AMLToken endpoints hand
    out tokens this way (Key endpoints have keys, AADToken ones take Microsoft Entra tokens)."""
    endpoint = get_endpoint(state, workspace_id, ONLINE, name)
    if endpoint["properties"].get("authMode") != "AMLToken":
        raise bad_request(f"Endpoint {name} uses {endpoint['properties'].get('authMode')} authentication; tokens are issued to AMLToken endpoints.", "UserError")
    now = int(state.clock.now())
    return {"accessToken": f"emulator-{state.new_id()}", "tokenType": "Bearer", "expiryTimeUtc": now + 24 * 3600, "refreshAfterTimeUtc": now + 12 * 3600}


def list_endpoints(state: State, workspace_id: str, kind: str) -> list[dict[str, Any]]:
    return list_children(state, workspace_id, kind)


def delete_endpoint(state: State, workspace_id: str, kind: str, name: str, fail_with: ArmError | None = None) -> Operation:
    endpoint = get_endpoint(state, workspace_id, kind, name)
    ensure_writable(state, endpoint["id"])
    endpoint["properties"]["provisioningState"] = "Deleting"

    def complete() -> None:
        for child in state.store.under(endpoint["id"]):
            state.store.delete(child["id"])
        state.store.delete(endpoint["id"])
        # Its system-assigned identity goes with it (managed identities overview): grants to it fail PrincipalNotFound.
        principal = (endpoint.get("identity") or {}).get("principalId")
        if principal:
            state.deleted_principals.add(principal.lower())

    def failed() -> None:
        endpoint["properties"]["provisioningState"] = "Succeeded"

    what = "online" if kind == ONLINE else "batch"
    return lro.start(state, f"endpoint.delete.{what}", ids.subscription_of(endpoint["id"]) or "", complete, location=endpoint["location"], fail_with=fail_with, on_fail=failed, key=endpoint["id"])


def put_deployment(
    state: State, workspace_id: str, endpoint: str, name: str, body: dict[str, Any], fail_with: ArmError | None = None
) -> tuple[dict[str, Any], Operation, bool]:
    parent = get_endpoint(state, workspace_id, ONLINE, endpoint)
    did = f"{parent['id']}/deployments/{name}"
    ensure_writable(state, did)
    props = dict((body or {}).get("properties") or {})
    if not props.get("endpointComputeType"):
        raise bad_request("A deployment needs properties.endpointComputeType (Managed or Kubernetes).", "InvalidDeploymentSpec")
    _check_references(state, props)
    previous = state.store.get(did)
    props["provisioningState"] = "Creating" if previous is None else "Updating"
    deployment = arm_body(
        state, did, f"{WORKSPACE_TYPE}/{ONLINE}/deployments", props,
        location=(body or {}).get("location") or parent["location"], tags=(body or {}).get("tags") or {},
        previous=previous, sku=(body or {}).get("sku") or {"name": "Default", "capacity": 1}, kind=(body or {}).get("kind"),
    )
    state.store.put(deployment)

    def complete() -> dict[str, Any]:
        deployment["properties"]["provisioningState"] = "Succeeded"
        return deployment

    def failed() -> None:
        # A deployment whose operation failed reads "Failed" (DeploymentProvisioningState in the machinelearningservices
        # REST specification; "Troubleshoot online endpoints deployment" shows `az ml online-deployment show` so),
        # not "Creating" for ever, as the endpoint above.
        deployment["properties"]["provisioningState"] = "Failed"

    op = lro.start(state, "deployment.create.online", ids.subscription_of(did) or "", complete, location=deployment["location"], fail_with=fail_with, on_fail=failed, key=did)
    return deployment, op, previous is None


def _check_references(state: State, props: dict[str, Any]) -> None:
    """A deployment's model, environmentId, codeConfiguration.codeId and compute may be ARM ids (OnlineDeployment
    properties in the machinelearningservices REST specification); an id must name a resource that exists,
    refused otherwise as ARM refuses a property id that does not resolve (400 LinkedInvalidPropertyId)."""
    model = props.get("model")
    refs = {
        "properties.model": model.get("assetId") if isinstance(model, dict) else model,  # batch: an AssetReference
        "properties.environmentId": props.get("environmentId"),
        "properties.codeConfiguration.codeId": (props.get("codeConfiguration") or {}).get("codeId"),
        "properties.compute": props.get("compute"),
    }
    for path, value in refs.items():
        if isinstance(value, str) and value.lower().startswith("/subscriptions/") and state.store.get(value) is None:
            raise ArmError(400, "LinkedInvalidPropertyId", f"Property id '{value}' at path '{path}' is invalid: no such resource exists.")


def get_deployment(state: State, workspace_id: str, endpoint: str, name: str) -> dict[str, Any]:
    parent = get_endpoint(state, workspace_id, ONLINE, endpoint)
    deployment = state.store.get(f"{parent['id']}/deployments/{name}")
    if deployment is None:
        raise _not_found(f"Deployment {name} not found in endpoint {endpoint}, workspace {ids.name_of(workspace_id)}")
    return deployment


def list_deployments(state: State, workspace_id: str, endpoint: str) -> list[dict[str, Any]]:
    parent = get_endpoint(state, workspace_id, ONLINE, endpoint)
    return state.store.children(parent["id"], "deployments")


def delete_deployment(state: State, workspace_id: str, endpoint: str, name: str) -> Operation:
    deployment = get_deployment(state, workspace_id, endpoint, name)
    parent = get_endpoint(state, workspace_id, ONLINE, endpoint)
    ensure_writable(state, deployment["id"])
    if parent["properties"].get("traffic", {}).get(name, 0) > 0:
        raise bad_request(f"Deployment '{name}' still takes traffic; set its traffic to 0 first.", "DeploymentHasTraffic")
    return lro.start(state, "deployment.delete", ids.subscription_of(deployment["id"]) or "", lambda: state.store.delete(deployment["id"]) and None)


def put_batch_deployment(state: State, workspace_id: str, endpoint: str, name: str, body: dict[str, Any]) -> tuple[dict[str, Any], Operation, bool]:
    """A batch endpoint's deployment (BatchDeployments_CreateOrUpdate, a long-running PUT): its compute is a
    compute cluster named by ARM id, its model an AssetReference ({referenceType: Id, assetId})."""
    parent = get_endpoint(state, workspace_id, BATCH, endpoint)
    did = f"{parent['id']}/deployments/{name}"
    ensure_writable(state, did)
    props = dict((body or {}).get("properties") or {})
    _check_references(state, props)
    previous = state.store.get(did)
    props["provisioningState"] = "Creating" if previous is None else "Updating"
    deployment = arm_body(
        state, did, f"{WORKSPACE_TYPE}/{BATCH}/deployments", props,
        location=(body or {}).get("location") or parent["location"], tags=(body or {}).get("tags") or {}, previous=previous,
    )
    return deployment, provision(state, deployment, "deployment.create.batch", deployment["location"]), previous is None


def list_batch_deployments(state: State, workspace_id: str, endpoint: str) -> list[dict[str, Any]]:
    parent = get_endpoint(state, workspace_id, BATCH, endpoint)
    return state.store.children(parent["id"], "deployments")


def get_batch_deployment(state: State, workspace_id: str, endpoint: str, name: str) -> dict[str, Any]:
    parent = get_endpoint(state, workspace_id, BATCH, endpoint)
    return require_child(state, f"{parent['id']}/deployments/{name}", "Deployment")
