"""The pure parts of a rehearsal: declaring the target subscription, and which locks a move meets."""

from __future__ import annotations

from amlops.refusals import denied_actions, deny_policies
from amlops.snapshot import PLACEHOLDER, WorkspaceReads, declare_target, relevant_locks, scrub
from tests.rehearse import rich

SOURCE = {"id": rich.SUB, "tenant": rich.TENANT, "region": "westeurope", "providers": {"Microsoft.MachineLearningServices": "Registered", "Microsoft.Notebooks": "Registered"}}


def _spec() -> dict:
    return {"subscriptions": [dict(SOURCE)], "workspaces": [{"id": rich.WS}]}


def test_an_unread_target_is_assumed_like_the_source_and_the_note_says_so() -> None:
    spec, notes = declare_target(_spec(), rich.SUB, rich.TARGET_SUB, unregistered=["Microsoft.Notebooks"])
    target = spec["subscriptions"][1]
    assert target == {"id": rich.TARGET_SUB, "tenant": rich.TENANT, "region": "westeurope", "providers": {"Microsoft.MachineLearningServices": "Registered", "Microsoft.Notebooks": "NotRegistered"}}
    assert "did not read subscription" in notes[0] and "except Microsoft.Notebooks" in notes[0]


def test_a_target_the_snapshot_read_is_kept_unless_told_otherwise() -> None:
    spec = _spec()
    spec["subscriptions"].append({"id": rich.TARGET_SUB, "tenant": rich.TENANT, "providers": {"Microsoft.Storage": "Registered"}})
    kept, notes = declare_target(spec, rich.SUB, rich.TARGET_SUB)
    assert kept["subscriptions"][1] == spec["subscriptions"][1] and notes == []
    other, notes = declare_target(spec, rich.SUB, rich.TARGET_SUB, tenant="99999999-0000-0000-0000-000000000000")
    assert other["subscriptions"][1]["tenant"] == "99999999-0000-0000-0000-000000000000" and "replaced" in notes[0]
    assert spec["subscriptions"][1]["tenant"] == rich.TENANT  # the caller's scenario is not changed


def test_locks_on_touched_scopes_and_above_them_matter_others_do_not() -> None:
    def lock(scope: str) -> dict:
        return {"id": f"{scope}/providers/Microsoft.Authorization/locks/l", "name": "l", "properties": {"level": "CanNotDelete"}}

    reads = WorkspaceReads(workspace={"id": rich.WS}, resources=[{"id": rich.STORAGE}], locks=[lock(f"/subscriptions/{rich.SUB}"), lock(rich.STORAGE), lock(rich.WS + "/computes/c"), lock(rich.OTHER_RG)])
    assert [lk["id"].split("/providers/Microsoft.Authorization")[0] for lk in relevant_locks(reads)] == [f"/subscriptions/{rich.SUB}", rich.STORAGE, rich.WS + "/computes/c"]


def test_scrub_replaces_secret_fields_at_any_depth_and_keeps_the_rest() -> None:
    body = {"properties": {"ConnectionString": "InstrumentationKey=x", "nested": [{"password": "p", "user": "u"}], "key": ""}}
    assert scrub(body) == {"properties": {"ConnectionString": PLACEHOLDER, "nested": [{"password": PLACEHOLDER, "user": "u"}], "key": ""}}


TARGET_RG = f"/subscriptions/{rich.TARGET_SUB}/resourceGroups/ml-rich-moved"
# The built-in "Allowed locations" definition (e56962a6-4747-49cd-b67b-bf8b01975c4c), as Azure serves it.
ALLOWED_LOCATIONS = {
    "id": "/providers/Microsoft.Authorization/policyDefinitions/e56962a6-4747-49cd-b67b-bf8b01975c4c",
    "properties": {
        "mode": "Indexed",
        "parameters": {"listOfAllowedLocations": {"type": "Array"}},
        "policyRule": {
            "if": {"allOf": [
                {"field": "location", "notIn": "[parameters('listOfAllowedLocations')]"},
                {"field": "location", "notEquals": "global"},
                {"field": "type", "notEquals": "Microsoft.AzureActiveDirectory/b2cDirectories"},
            ]},
            "then": {"effect": "deny"},
        },
    },
}  # fmt: skip
NO_COMPUTE = {
    "id": f"/subscriptions/{rich.TARGET_SUB}/providers/Microsoft.Authorization/policyDefinitions/no-compute",
    "properties": {
        "parameters": {"effect": {"type": "String", "defaultValue": "Deny"}},
        "policyRule": {"if": {"not": {"field": "type", "notIn": ["Microsoft.MachineLearningServices/workspaces/computes"]}}, "then": {"effect": "[parameters('effect')]"}},
    },
}


def _assignment(name: str, definition: dict, scope: str = f"/subscriptions/{rich.TARGET_SUB}", **props: object) -> dict:
    return {"id": f"{scope}/providers/Microsoft.Authorization/policyAssignments/{name}", "name": name,
            "properties": {"scope": scope, "policyDefinitionId": definition["id"], **props}}  # fmt: skip


def _denials(*assignments: dict, definitions: tuple[dict, ...] = (ALLOWED_LOCATIONS, NO_COMPUTE)) -> tuple[list[dict], list[dict]]:
    return deny_policies(list(assignments), {d["id"].lower(): d for d in definitions}, TARGET_RG, rich.TARGET_SUB)


def test_deny_policies_are_written_in_the_emulators_terms_with_their_parameters_resolved() -> None:
    management_group = "/providers/Microsoft.Management/managementGroups/corp"
    policies, unknown = _denials(
        _assignment("eu-only", ALLOWED_LOCATIONS, scope=management_group, parameters={"listOfAllowedLocations": {"value": ["westeurope", "northeurope"]}}),
        _assignment("no-compute", NO_COMPUTE),
        _assignment("audit-only", NO_COMPUTE, parameters={"effect": {"value": "Audit"}}),  # audits: refuses nothing
        _assignment("not-enforced", NO_COMPUTE, enforcementMode="DoNotEnforce"),
        _assignment("exempted", NO_COMPUTE, notScopes=[TARGET_RG]),
    )
    assert policies == [
        {"name": "eu-only", "scope": f"/subscriptions/{rich.TARGET_SUB}", "locations": ["westeurope", "northeurope", "global"],
         "not_resource_types": ["Microsoft.AzureActiveDirectory/b2cDirectories"]},
        {"name": "no-compute", "scope": f"/subscriptions/{rich.TARGET_SUB}", "resource_types": ["Microsoft.MachineLearningServices/workspaces/computes"]},
    ]  # fmt: skip
    assert unknown == []


def test_an_initiative_passes_its_members_the_values_it_was_assigned_and_what_cannot_be_evaluated_is_unknown() -> None:
    tags = {"id": f"/subscriptions/{rich.TARGET_SUB}/providers/Microsoft.Authorization/policyDefinitions/tags",
            "properties": {"policyRule": {"if": {"field": "tags['owner']", "exists": "false"}, "then": {"effect": "deny"}}}}  # fmt: skip
    # Shaped as getPolicySetDefinition.json: members with a reference id and the values the set passes them.
    initiative = {
        "id": "/providers/Microsoft.Authorization/policySetDefinitions/landing-zone",
        "properties": {
            "parameters": {"regions": {"type": "Array", "defaultValue": ["westeurope"]}},
            "policyDefinitions": [
                {"policyDefinitionId": ALLOWED_LOCATIONS["id"], "policyDefinitionReferenceId": "locations", "parameters": {"listOfAllowedLocations": {"value": "[parameters('regions')]"}}},
                {"policyDefinitionId": tags["id"], "policyDefinitionReferenceId": "owner-tag"},
                {"policyDefinitionId": NO_COMPUTE["id"], "policyDefinitionReferenceId": "compute", "parameters": {"effect": {"value": "Audit"}}},
            ],
        },
    }  # fmt: skip
    policies, unknown = _denials(_assignment("lz", initiative, parameters={"regions": {"value": ["swedencentral"]}}), definitions=(initiative, ALLOWED_LOCATIONS, tags, NO_COMPUTE))
    assert policies == [{"name": "locations", "initiative": "lz", "scope": f"/subscriptions/{rich.TARGET_SUB}", "locations": ["swedencentral", "global"],
                         "not_resource_types": ["Microsoft.AzureActiveDirectory/b2cDirectories"]}]  # fmt: skip
    [owner] = unknown
    assert owner["what"].endswith("policyAssignments/lz (its policy owner-tag)") and "tags['owner']" in owner["why"] and owner["unknown"].startswith("whether")
    assert _denials(_assignment("unread", initiative), definitions=()) == ([], []), "an initiative not read is already an unknown of the reads"


def test_permissions_become_the_actions_the_move_needs_that_they_do_not_grant() -> None:
    reader = [{"actions": ["*/read"], "notActions": []}]
    owner_but = [{"actions": ["*"], "notActions": ["Microsoft.Authorization/*/Write"]}, {"actions": ["*/read"], "notActions": []}]
    denied = {d["scope"]: d["actions"] for d in denied_actions({rich.WS: reader, rich.RG: reader, TARGET_RG: owner_but})}
    assert set(denied) == {rich.RG, TARGET_RG}, "the workspace inherits its group's denials: not said twice"
    assert "Microsoft.Resources/subscriptions/resourceGroups/moveResources/action" in denied[rich.RG]
    assert "Microsoft.MachineLearningServices/workspaces/computes/delete" in denied[rich.RG]
    assert denied[TARGET_RG] == ["Microsoft.Authorization/roleAssignments/write", "Microsoft.Authorization/*/Write"]
