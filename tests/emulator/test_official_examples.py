"""Azure's official request/response examples: the emulator accepts every request and the SDK parses its answers.

The operation table (method and path of each example) is read from the examples' README, so a new
example file is tested without editing this module.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from azure.ai.ml._restclient.arm_ml_service import models as ml_models
from azure.core.rest import HttpRequest
from azure.mgmt.resource.resources import models as arm_models

from tests.conftest import Env

EXAMPLES = Path(__file__).parents[3] / "shared" / "azure-rest-examples"
W = "/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/Microsoft.MachineLearningServices/workspaces/{workspaceName}"
BODY_PARAMETERS = ("parameters", "body", "properties")
QUERY_PARAMETERS = ("underlyingResourceAction", "isDefault", "listViewType")
# Where a recording of real Azure disagrees with an example, the recording wins: the long-running headers Azure
# actually sent (tests/recorded/recordings/), by operation and status.
RECORDED_LRO_HEADERS: dict[tuple[str, int], set[str]] = {
    # compute_instance_stop_start.json: a compute DELETE's 202 carries Azure-AsyncOperation only (the example adds Location).
    ("Compute_Delete", 202): {"azure-asyncoperation"},
    # compute_instance_stop_start.json: a start's 202 carries Azure-AsyncOperation only (the example shows Location).
    ("Compute_Start", 202): {"azure-asyncoperation"},
}

# operation id prefix -> how the SDK reads one resource of that kind
PARSERS: dict[str, Any] = {
    "Compute": ml_models.ComputeResource,
    "Datastores": ml_models.Datastore,
    "Jobs": ml_models.JobBase,
    "OnlineEndpoints": ml_models.OnlineEndpoint,
    "BatchEndpoints": ml_models.BatchEndpoint,
    "PrivateEndpointConnections": ml_models.PrivateEndpointConnection,
    "Workspaces": ml_models.Workspace,
    "EnvironmentContainers": ml_models.EnvironmentContainer,
    "EnvironmentVersions": ml_models.EnvironmentVersion,
    "ModelVersions": ml_models.ModelVersion,
    "ResourceGroups": arm_models.ResourceGroup,
    "PrivateLinkResources": ml_models.PrivateLinkResource,
}
# Answers that are not a resource (no name), each read by the SDK model azure-ai-ml deserialises it into.
NAMELESS: dict[str, Any] = {
    "Workspaces_ListKeys": ml_models.ListWorkspaceKeysResult,
    "Datastores_ListSecrets": ml_models.DatastoreSecrets,
    # A page of nodes; this SDK has a model per node only (AmlComputeNodeInformation).
    "Compute_ListNodes": lambda body: {"nodes": [ml_models.AmlComputeNodeInformation(n) for n in body["nodes"]], "nextLink": body.get("nextLink")},
    "Providers_Get": arm_models.Provider,  # named by its namespace
}


def _read(model: Any, body: Any) -> Any:
    """azure-mgmt-resource's models deserialise (msrest); azure-ai-ml's generated ones take the mapping."""
    if hasattr(model, "deserialize"):
        return model.deserialize(body)
    return model(body)


def _operations() -> list[tuple[str, str, str, str]]:
    rows = []
    for line in (EXAMPLES / "README.md").read_text().splitlines():
        m = re.match(r"\| `([^`]+)` \| (\w+) \| `(\w+) ([^`]+)` \|", line)
        if m:
            rows.append((m.group(1), m.group(2), m.group(3), m.group(4).split("?")[0].replace("W", W, 1) if m.group(4).startswith("W") else m.group(4).split("?")[0]))
    return rows


OPERATIONS = _operations()


def _value(params: dict[str, Any], name: str) -> str:
    value = str(params[name])
    return value.rstrip("/").rsplit("/", 1)[-1] if "/" in value and name != "scope" else value


def _path(template: str, params: dict[str, Any]) -> str:
    aliases = {"computeName": "computeName", "id": "id", "name": "name"}

    def fill(m: re.Match[str]) -> str:
        name = aliases.get(m.group(1), m.group(1))
        if name == "scope":
            return params["scope"].strip("/")
        return quote(_value(params, name), safe="")

    return re.sub(r"\{(\w+)\}", fill, template)


def _workspace_id(p: dict[str, Any]) -> str:
    return f"/subscriptions/{p['subscriptionId']}/resourceGroups/{p['resourceGroupName']}/providers/Microsoft.MachineLearningServices/workspaces/{p['workspaceName']}"


def _seed(operation: str, p: dict[str, Any]) -> dict[str, Any]:
    """A scenario in which the example's request makes sense: its workspace, and the resource it acts on."""
    spec: dict[str, Any] = {"resource_groups": [], "workspaces": [], "resources": []}
    if "scope" in p:
        group = re.match(r"/?subscriptions/[^/]+/resourceGroups/[^/]+", p["scope"], re.IGNORECASE)
        if group:
            spec["resource_groups"].append({"id": "/" + group.group(0).lstrip("/"), "location": "eastus"})
        return spec
    spec["resource_groups"].append({"id": f"/subscriptions/{p['subscriptionId']}/resourceGroups/{p.get('resourceGroupName', 'rg')}", "location": "eastus"})
    if "workspaceName" not in p:
        return spec
    ws: dict[str, Any] = {"id": _workspace_id(p), "location": "eastus", "properties": {}}
    spec["workspaces"].append(ws)
    kind, _, action = operation.partition("_")
    name = _value(p, "computeName") if "computeName" in p else None
    if kind == "Compute" and action not in ("CreateOrUpdate", "List"):
        ctype = "AmlCompute" if action in ("Update", "ListNodes") else "ComputeInstance"
        ws["computes"] = [{"name": name, "state": "Stopped" if action == "Start" else None, "properties": {"computeType": ctype, "properties": {"vmSize": "STANDARD_DS3_V2"}}}]
        ws["computes"][0] = {k: v for k, v in ws["computes"][0].items() if v is not None}
    if kind == "Datastores" and action not in ("CreateOrUpdate", "List"):
        ws["datastores"] = [{"name": p["name"], "properties": {"datastoreType": "AzureBlob", "accountName": "acct", "containerName": "c", "credentials": {"credentialsType": "AccountKey", "secrets": {"secretsType": "AccountKey", "key": "k"}}}}]
    if kind in ("OnlineEndpoints", "BatchEndpoints") and action not in ("CreateOrUpdate", "List"):
        key = "online_endpoints" if kind == "OnlineEndpoints" else "batch_endpoints"
        ws[key] = [{"name": p["endpointName"], "properties": {"authMode": "Key"}}]
    if kind == "PrivateEndpointConnections" and action != "List":
        ws["private_endpoint_connections"] = [{"name": p["privateEndpointConnectionName"], "private_endpoint": "/subscriptions/x/resourceGroups/y/providers/Microsoft.Network/privateEndpoints/pe", "status": "Pending"}]
    if kind in ("EnvironmentContainers", "EnvironmentVersions", "ModelVersions") and "name" in p:
        segment = "models" if kind == "ModelVersions" else "environments"
        ws["assets"] = [{"path": f"{segment}/{p['name']}", "properties": {}}]
        if "version" in p:
            ws["assets"].append({"path": f"{segment}/{p['name']}/versions/{p['version']}", "properties": {}})
    return spec


def _prepare_jobs(env: Env, operation: str, p: dict[str, Any]) -> None:
    kind, _, action = operation.partition("_")
    if kind != "Jobs" or action in ("CreateOrUpdate", "List"):
        return
    url = f"{env.emulator.base_url}{_workspace_id(p)}/jobs/{quote(_value(p, 'id'))}?api-version=2025-12-01"
    body = {"properties": {"jobType": "Command", "command": "echo", "environmentId": "env", "computeId": "cpu"}}
    env.clients.arm(p["subscriptionId"]).send_request(HttpRequest("PUT", url, json=body))
    if action == "Delete":
        env.control.job(f"{_workspace_id(p)}/jobs/{_value(p, 'id')}", "complete")


def _parse(operation: str, body: Any) -> None:
    """Every answer is read, none skipped: by the SDK model of its kind, by its non-resource model, or
    (role assignments: azure-mgmt-authorization is not among the project's dependencies) by ARM's shape."""
    kind = operation.split("_")[0]
    if operation in NAMELESS:
        model = _read(NAMELESS[operation], body)
        assert model is not None and (model.as_dict() if hasattr(model, "as_dict") else dict(model)), f"{operation}: the SDK read nothing from {body}"
        if operation == "Providers_Get":
            assert model.namespace == body["namespace"]
        return
    parser = PARSERS.get(kind)
    items = body["value"] if isinstance(body, dict) and "value" in body else [body]
    for item in items:
        assert isinstance(item, dict) and "name" in item, f"{operation}: an item without a name: {item}"
        if kind == "RoleAssignments":
            assert set(item) >= {"id", "name", "type", "properties"} and item["properties"]["principalId"]
            continue
        assert parser is not None, f"{operation}: no SDK model to read {kind} with; add one to PARSERS"
        model = _read(parser, item)
        assert model.name, f"the SDK could not read a name from {item}"
        if kind == "Compute":
            assert model.properties.compute_type == item["properties"]["computeType"]


@pytest.mark.parametrize(("file", "operation", "method", "template"), OPERATIONS, ids=[o[0] for o in OPERATIONS])
def test_example_request_is_accepted_and_answer_parses(env: Env, file: str, operation: str, method: str, template: str) -> None:
    example = json.loads((EXAMPLES / file).read_text())
    p = example["parameters"]
    env.control.load(_seed(operation, p))
    _prepare_jobs(env, operation, p)
    if operation == "RoleAssignments_Delete":
        create = {"properties": {"roleDefinitionId": "/providers/Microsoft.Authorization/roleDefinitions/r", "principalId": "p"}}
        env.clients.arm(p["scope"].split("/")[1]).send_request(HttpRequest("PUT", f"{env.emulator.base_url}/{_path(template, p).lstrip('/')}?api-version=2022-04-01", json=create))
    body = next((p[k] for k in BODY_PARAMETERS if isinstance(p.get(k), dict)), None)
    query = {"api-version": p["api-version"], **{k: str(p[k]) for k in QUERY_PARAMETERS if k in p}}
    url = f"{env.emulator.base_url}/{_path(template, p).lstrip('/')}?" + "&".join(f"{k}={quote(v)}" for k, v in query.items())
    subscription = p.get("subscriptionId") or p["scope"].split("/")[1]
    response = env.clients.arm(subscription).send_request(HttpRequest(method, url, json=body))
    documented = {int(code) for code in example["responses"]}
    assert response.status_code in documented, f"{operation}: got {response.status_code} {response.text()[:300]}, Azure documents {sorted(documented)}"
    documented_headers = {h.lower() for h in (example["responses"][str(response.status_code)] or {}).get("headers", {})}
    lro_headers = RECORDED_LRO_HEADERS.get((operation, response.status_code), documented_headers & {"azure-asyncoperation", "location"})
    assert lro_headers <= {h.lower() for h in response.headers}, f"{operation}: Azure sends {sorted(lro_headers)} with {response.status_code}"
    if response.content:
        _parse(operation, response.json())


def test_every_example_file_is_in_the_table() -> None:
    listed = {o[0] for o in OPERATIONS}
    on_disk = {str(f.relative_to(EXAMPLES)) for f in EXAMPLES.rglob("*.json")}
    assert on_disk == listed
