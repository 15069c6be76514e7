"""What the recorded tier's sessions do not reach on their own: refusals and answers Azure gave, as a client meets them."""

from __future__ import annotations

import pytest
from azure.core.rest import HttpRequest

from amlops.azure import datastores, locks, operations, rest
from amlops.errors import NotFound
from amlops.models import ResourceId
from tests.conftest import Env


def _endpoint(ws: ResourceId, name: str) -> str:
    return rest.child_path(ws, "onlineEndpoints", name)


def test_mirror_traffic_to_a_deployment_that_does_not_exist_is_refused_before_anything_is_made(demo: Env, ws: ResourceId) -> None:
    mark = demo.control.mark()
    body = {"location": "westeurope", "properties": {"authMode": "Key", "traffic": {}, "mirrorTraffic": {"shadow": 10}}}
    with pytest.raises(NotFound, match="Deployment shadow not found in endpoint new-api, workspace ml-prod-ws") as err:
        operations.put(demo.clients, _endpoint(ws, "new-api"), rest.ML_API, body)
    assert err.value.code == "UserError"
    with pytest.raises(NotFound):
        rest.get_child(demo.clients, ws, "onlineEndpoints", "new-api")
    assert [r for r in demo.control.requests(mark) if r["method"] == "PUT" and r["status"] < 300] == []


def test_mirror_traffic_to_an_existing_deployment_is_accepted(demo: Env, ws: ResourceId) -> None:
    body = {"location": "westeurope", "properties": {"authMode": "Key", "traffic": {"blue": 90, "green": 10}, "mirrorTraffic": {"green": 20}}}
    answer = operations.put(demo.clients, _endpoint(ws, "forecast-api"), rest.ML_API, body)
    assert answer["properties"]["mirrorTraffic"] == {"green": 20} and answer["kind"] == "Managed"


def test_a_deleted_endpoint_reads_404_user_error_with_an_inner_not_found(demo: Env, ws: ResourceId) -> None:
    operations.delete(demo.clients, _endpoint(ws, "forecast-api"), rest.ML_API)
    answer = demo.clients.arm(ws.subscription).send_request(HttpRequest("GET", rest.full_url(demo.clients, _endpoint(ws, "forecast-api"), rest.ML_API)))
    assert answer.status_code == 404
    error = answer.json()["error"]
    assert error["code"] == "UserError" and "An endpoint with the name 'forecast-api' does not exist in the workspace 'ml-prod-ws'" in error["message"]
    inner = next(i["info"]["value"] for i in error["additionalInfo"] if i["type"] == "InnerError")
    assert (inner["code"], inner["innerError"]["code"]) == ("NotFound", "EndpointNotFound")


def test_an_aml_token_endpoint_hands_out_a_token_for_a_day(demo: Env, ws: ResourceId) -> None:
    body = {"location": "westeurope", "properties": {"authMode": "amltoken"}}
    made = operations.put(demo.clients, _endpoint(ws, "token-api"), rest.ML_API, body)
    assert made["properties"]["authMode"] == "AMLToken", "Azure's spelling"
    token = rest.send(demo.clients, ws.subscription, "POST", _endpoint(ws, "token-api") + "/token", rest.ML_API)
    assert token["tokenType"] == "Bearer" and token["accessToken"]
    assert token["expiryTimeUtc"] - token["refreshAfterTimeUtc"] == 12 * 3600


def test_list_secrets_asked_for_an_expirable_secret_answers_a_sas_and_never_the_key(demo: Env, ws: ResourceId) -> None:
    path = datastores.DATASTORES.path(ws, "curated") + "/listSecrets"
    answer = rest.send(demo.clients, ws.subscription, "POST", path, rest.ML_API, {"expirableSecret": True, "expireAfterHours": 1})
    assert answer["secretsType"] == "Sas" and "sig=" in answer["sasToken"] and "key" not in answer
    assert datastores.get_datastore(demo.clients, ws, "curated").properties["credentials"] == {"credentialsType": "AccountKey"}


def _send(demo: Env, ws: ResourceId, method: str, path: str, api: str) -> tuple[int, dict[str, str]]:
    answer = demo.clients.arm(ws.subscription).send_request(HttpRequest(method, rest.full_url(demo.clients, path, api)))
    return answer.status_code, {k.lower(): v for k, v in answer.headers.items()}


def test_a_delete_refused_by_a_lock_is_arms_own_answer_and_costs_nothing(demo: Env, ws: ResourceId) -> None:
    """lock_blocks_group_delete.json: the refusal carries x-ms-failure-cause gateway and no rate-limit header, and the
    next delete reported as many deletes left as the one before the refusal."""
    group = f"/subscriptions/{ws.subscription}/resourceGroups/{ws.resource_group}"
    locks.create_lock(demo.clients, group, "keep", "CanNotDelete")
    compute = rest.child_path(ws, "computes", "bob-ci")
    _, before = _send(demo, ws, "DELETE", f"{group}/providers/Microsoft.Authorization/locks/not-there", locks.LOCKS_API)
    status, refused = _send(demo, ws, "DELETE", compute, rest.ML_API)
    assert status == 409 and refused.get("x-ms-failure-cause") == "gateway"
    assert not [h for h in refused if h.startswith("x-ms-ratelimit-remaining-")]
    _, after = _send(demo, ws, "DELETE", f"{group}/providers/Microsoft.Authorization/locks/keep", locks.LOCKS_API)
    counted = "x-ms-ratelimit-remaining-subscription-deletes"
    assert int(after[counted]) == int(before[counted]) - 1, "the deletes on either side were counted, the refused one not"


def test_a_missing_workspace_is_arms_own_404_and_costs_nothing(demo: Env, ws: ResourceId) -> None:
    """workspace_get_missing.json: 404 ResourceNotFound in ARM's words, from its gateway, with no rate-limit header."""
    missing = str(ws).rsplit("/", 1)[0] + "/no-such-ws"
    answer = demo.clients.arm(ws.subscription).send_request(HttpRequest("GET", rest.full_url(demo.clients, missing, rest.ML_API)))
    assert answer.status_code == 404 and answer.headers.get("x-ms-failure-cause") == "gateway"
    assert not [h for h in answer.headers if h.lower().startswith("x-ms-ratelimit-remaining-")]
    assert answer.json()["error"]["message"].startswith(
        f"The Resource 'Microsoft.MachineLearningServices/workspaces/no-such-ws' under resource group '{ws.resource_group}' was not found."
    )
