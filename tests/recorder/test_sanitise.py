"""The recorder's rules, pure: what an exchange keeps, in the test proxy's format, and the ids it replaces."""

from __future__ import annotations

import base64
import json
from typing import Any

from amlops.recording_sanitise import PLACEHOLDER_PREFIX, SANITIZED, Sanitiser, is_text, sanitise_scenario, sanitise_text

SUB = "6a4d0e1c-1f0e-4b8e-9c1e-2f3a4b5c6d7e"
TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
PRINCIPAL = "5d3c2b1a-0f9e-4d8c-b7a6-958473625140"
WS = f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces/ws"


def _file(sanitiser: Sanitiser, *entries: dict[str, Any]) -> dict[str, Any]:
    return json.loads(sanitiser.recording(list(entries)))


def test_an_entry_has_the_test_proxys_fields_and_keeps_only_the_request_headers_a_replay_needs() -> None:
    s = Sanitiser(b"salt")
    entry = s.entry(
        "put", f"https://management.azure.com{WS}/computes/ci?api-version=2024-10-01",
        {"Authorization": "Bearer eyJ0eXAiOiJKV1QiLCJhbGciOi.eyJhdWQiOiJodHRwczovL21h.c2lnbmF0dXJl", "Content-Type": "application/json", "User-Agent": "azsdk-python laptop",
         "x-ms-client-request-id": "abc", "If-Match": "*"},
        b'{"properties": {"computeType": "ComputeInstance"}}',
        201,
        {"Azure-AsyncOperation": f"https://management.azure.com/subscriptions/{SUB}/providers/x/ops/1?api-version=1", "Set-Cookie": "a=b", "Content-Type": "application/json; charset=utf-8",
         "x-ms-operation-identifier": f"tenantId={TENANT},objectId={PRINCIPAL}/westeurope/op"},
        b'{"name": "ci"}',
    )  # fmt: skip
    recording = _file(s, entry)
    assert list(recording) == ["Entries", "Variables"] and recording["Variables"] == {}
    [e] = recording["Entries"]
    assert list(e) == ["RequestUri", "RequestMethod", "RequestHeaders", "RequestBody", "StatusCode", "ResponseHeaders", "ResponseBody"]
    assert e["RequestMethod"] == "PUT" and e["StatusCode"] == 201
    assert e["RequestHeaders"] == {"Content-Type": "application/json", "If-Match": "*"}
    assert "Set-Cookie" not in e["ResponseHeaders"] and "Azure-AsyncOperation" in e["ResponseHeaders"]
    assert e["RequestBody"] == {"properties": {"computeType": "ComputeInstance"}} and e["ResponseBody"] == {"name": "ci"}
    text = json.dumps(recording)
    for real in (SUB, TENANT, PRINCIPAL, "eyJ0eXAi", "laptop"):
        assert real not in text


def test_bodies_are_written_as_the_test_proxy_writes_them() -> None:
    s = Sanitiser(b"salt")
    e = _file(
        s,
        s.entry("GET", "https://x/a", {}, None, 200, {"Content-Type": "application/xml"}, b"<a>\n<b/>\n</a>"),
        s.entry("PUT", "https://x/b", {"Content-Type": "application/octet-stream"}, b"\x00\xff\x10", 202, {}, b""),
        s.entry("POST", "https://x/c", {"Content-Type": "application/json"}, b"[1, 2]", 200, {"Content-Type": "text/plain"}, b"one line"),
    )["Entries"]
    assert e[0]["RequestBody"] is None and e[0]["ResponseBody"] == ["<a>\n", "<b/>\n", "</a>"]
    assert base64.b64decode(e[1]["RequestBody"]) == b"\x00\xff\x10" and e[1]["ResponseBody"] is None
    assert e[2]["RequestBody"] == "[1, 2]" and e[2]["ResponseBody"] == "one line"
    assert is_text("application/json; charset=utf-8") and is_text("text/xml") and not is_text("application/octet-stream")


def test_secrets_go_wherever_they_are() -> None:
    s = Sanitiser(b"salt")
    planted = {
        "sas": "sv=2024-01-01&se=2030-01-01&sig=PLANTEDsig%3D",
        "key": "UExBTlRFRC1rZXk=",
        "conn": "DefaultEndpointsProtocol=https;AccountName=a;AccountKey=PLANTEDaccountkey==;EndpointSuffix=core.windows.net",
        "client secret": "PLANTED~client~secret",
        "token": "PLANTED-access-token",
        "instrumentation": "InstrumentationKey=PLANTED-ikey;IngestionEndpoint=https://x",
    }
    listsecrets = {"secretsType": "Sas", "sasToken": planted["sas"]}
    datastore = {"properties": {"credentials": {"credentialsType": "ServicePrincipal", "clientId": PRINCIPAL, "tenantId": TENANT,
                                                "secrets": {"secretsType": "ServicePrincipal", "clientSecret": planted["client secret"]}}}}
    keys = {"userStorageKey": planted["key"], "userStorageResourceId": f"/subscriptions/{SUB}/x", "containerRegistryCredentials": {"passwords": [{"name": "password", "value": planted["key"]}]}}
    entries = [
        s.entry("POST", f"https://x{WS}/datastores/d/listSecrets?api-version=1", {"Content-Type": "application/json"}, b"{}", 200, {"Content-Type": "application/json"}, json.dumps(listsecrets)),
        s.entry("PUT", f"https://x{WS}/datastores/d?api-version=1", {"Content-Type": "application/json"}, json.dumps(datastore), 200, {"Content-Type": "application/json"}, b"{}"),
        s.entry("POST", f"https://x{WS}/listKeys?api-version=1", {}, None, 200, {"Content-Type": "application/json"}, json.dumps(keys)),
        s.entry("POST", f"https://x{WS}/onlineEndpoints/e/token?api-version=1", {}, None, 200, {"Content-Type": "application/json"},
                json.dumps({"accessToken": planted["token"], "tokenType": "Bearer", "expiryTimeUtc": 1})),
        s.entry("GET", f"https://acct.blob.core.windows.net/c/b?{planted['sas']}", {}, None, 200, {"Content-Type": "application/octet-stream"},
                json.dumps({"connection": planted["conn"], "insights": planted["instrumentation"]})),
    ]  # fmt: skip
    text = s.recording(entries)
    for name, secret in planted.items():
        for part in (secret, *(p.split("=", 1)[1] for p in secret.split(";") if "Key=" in p)):
            assert part not in text, name
    decoded = base64.b64decode(json.loads(text)["Entries"][4]["ResponseBody"]).decode()
    assert "PLANTED" not in decoded and "AccountKey=Sanitized" in decoded
    e = json.loads(text)["Entries"]
    assert e[0]["ResponseBody"] == {"secretsType": "Sas", "sasToken": SANITIZED}
    assert e[1]["RequestBody"]["properties"]["credentials"]["secrets"] == {"secretsType": "ServicePrincipal", "clientSecret": SANITIZED}
    assert e[2]["ResponseBody"]["containerRegistryCredentials"]["passwords"] == [{"name": "password", "value": SANITIZED}]
    assert e[3]["ResponseBody"]["tokenType"] == "Bearer", "what a secret is stays readable"


def test_ids_are_replaced_the_same_way_everywhere_even_where_they_were_seen_before_anything_said_what_they_were() -> None:
    s = Sanitiser(b"salt")
    early = s.entry("GET", f"https://x/other?filter=principalId eq '{PRINCIPAL.upper()}'", {}, None, 200, {}, None)  # not yet known as an id
    late = s.entry("GET", f"https://x{WS}/roleAssignments/r", {}, None, 200, {"Content-Type": "application/json"}, json.dumps({"properties": {"principalId": PRINCIPAL, "scope": WS}}))
    text = s.recording([early, late])
    assert SUB not in text and PRINCIPAL not in text.lower()
    p_sub, p_principal = s.placeholder(SUB), s.placeholder(PRINCIPAL)
    assert p_sub.startswith(PLACEHOLDER_PREFIX) and p_sub != p_principal
    assert text.count(p_principal) == 2 and p_sub in text
    assert Sanitiser(b"salt").placeholder(SUB.upper()) == p_sub, "another process of the run, same salt: same placeholder"
    assert Sanitiser(b"other").placeholder(SUB) != p_sub, "without the salt nobody can test a guess"
    assert s.placeholder(p_sub) == p_sub, "a placeholder is its own placeholder: a sanitised answer sanitises to itself"


def test_personal_names_go_and_graph_display_names_with_them() -> None:
    s = Sanitiser(b"salt")
    body = {"systemData": {"createdBy": "alice@contoso.com", "createdByType": "User"},
            "value": [{"@odata.type": "#microsoft.graph.user", "id": PRINCIPAL, "displayName": "Alice Example", "userPrincipalName": "alice@contoso.com"}],
            "properties": {"displayName": "Forecast workspace"}}  # fmt: skip
    text = s.recording([s.entry("POST", "https://graph/v1.0/directoryObjects/getByIds", {"Content-Type": "application/json"}, json.dumps({"ids": [PRINCIPAL]}), 200, {"Content-Type": "application/json"}, json.dumps(body))])
    assert "alice" not in text.lower() and PRINCIPAL not in text
    assert "Forecast workspace" in text, "a resource's display name is no person's"


def test_text_rules_leave_ordinary_values_alone() -> None:
    assert sanitise_text("https://x/a?api-version=2024-10-01&$filter=state eq 'Running'") == "https://x/a?api-version=2024-10-01&$filter=state eq 'Running'"
    assert sanitise_text("Bearer authorization_uri=\"https://login\"") == "Bearer authorization_uri=\"https://login\""
    assert sanitise_text("?sv=2024&sig=abc%3D&sp=r") == f"?sv={SANITIZED}&sig={SANITIZED}&sp=r"


def test_a_scenario_is_mapped_the_way_its_recording_is() -> None:
    s = Sanitiser(b"salt")
    scenario = {"subscriptions": [{"id": SUB, "tenant": TENANT}], "role_assignments": [{"principalId": PRINCIPAL, "name": "0b5fe924-9a61-425c-96af-cfe6e287ca2d"}]}
    mapped = json.dumps(sanitise_scenario(s, scenario))
    assert SUB not in mapped and TENANT not in mapped and PRINCIPAL not in mapped
    assert s.placeholder(TENANT) in mapped and "0b5fe924-9a61-425c-96af-cfe6e287ca2d" in mapped, "a role assignment's name is no one's id"
