"""Azure Policy deny assignments and Microsoft.PolicyInsights/checkPolicyRestrictions.

A scenario assigns deny policies at a scope: ``{"name", "scope", "resource_types": [...], "not_resource_types":
[...], "locations": [...]}`` (a resource matches when its type is listed (any type when ``resource_types`` is
absent), is not among ``not_resource_types``, and, when ``locations`` is given, its location is not among them:
the shape of the built-in "Not allowed resource types" and "Allowed locations" definitions, whose rules read
``{"field": "type", "in": [...]}`` and ``allOf [{"field": "location", "notIn": [...]}, {"field": "location",
"notEquals": "global"}, {"field": "type", "notEquals": "Microsoft.AzureActiveDirectory/b2cDirectories"}]``).
- ``GET {scope}/providers/Microsoft.Authorization/policyAssignments`` lists the assignments that apply to the scope
  (at it and above it; below it too unless ``$filter=atScope()``), and ``GET /subscriptions/{s}/providers/
  Microsoft.Authorization/policyDefinitions/{name}`` each one's definition, with a ``policyRule`` of
  ``if``/``then: {"effect": "deny"}``: REST "Policy Assignments - List For Resource Group" and "Policy Definitions -
  Get" (Microsoft.Authorization/policy 2023-04-01, examples listPolicyAssignmentsForResourceGroup.json and
  createOrUpdatePolicyDefinition.json in Azure/azure-rest-api-specs).
- Policies that name the same ``initiative`` at a scope are assigned together as one policy set: one assignment
  named after the initiative whose ``policyDefinitionId`` is ``/subscriptions/{s}/providers/Microsoft.Authorization/
  policySetDefinitions/{initiative}``, a set listing each policy's definition with its ``policyDefinitionReferenceId``
  (REST "Policy Set Definitions - Get", example getPolicySetDefinition.json), and denials that name the set and
  the reference, as a RequestDisallowedByPolicy through an initiative does.
- A PUT that a deny policy matches is refused 403 ``RequestDisallowedByPolicy``, worded as in "Resolve errors for
  request disallowed by policy" (azure-resource-manager/troubleshooting/error-policy-requestdisallowedbypolicy).
- ``POST {scope}/providers/Microsoft.PolicyInsights/checkPolicyRestrictions`` answers as the REST specification's
  example PolicyRestrictions_CheckAtResourceGroupScope.json (policyinsights 2022-03-01): ``fieldRestrictions`` and
  ``contentEvaluationResult.policyEvaluations`` with ``evaluationResult: NonCompliant`` per matching policy.
"""

from __future__ import annotations

from typing import Any

from amlops.emulator import ids
from amlops.emulator.errors import ArmError, bad_request
from amlops.emulator.state import State


def load(state: State, spec: dict[str, Any]) -> None:
    state.policies = [dict(p) for p in spec.get("policies", [])]


def _assignment_name(policy: dict[str, Any]) -> str:
    return str(policy.get("initiative") or policy["name"])


def _assignment_id(policy: dict[str, Any]) -> str:
    return f"{policy['scope'].rstrip('/')}/providers/Microsoft.Authorization/policyAssignments/{_assignment_name(policy)}"


def _set_id(policy: dict[str, Any]) -> str:
    sub = ids.subscription_of(policy["scope"]) or ""
    return f"/subscriptions/{sub}/providers/Microsoft.Authorization/policySetDefinitions/{policy['initiative']}"


def _definition_id(policy: dict[str, Any]) -> str:
    sub = ids.subscription_of(policy["scope"]) or ""
    return f"/subscriptions/{sub}/providers/Microsoft.Authorization/policyDefinitions/{policy['name']}"


def _covers(policy: dict[str, Any], scope: str) -> bool:
    return ids.key(scope) == ids.key(policy["scope"]) or ids.is_under(scope, policy["scope"])


def matching(state: State, scope: str, resource_type: str, location: str | None) -> list[dict[str, Any]]:
    """Deny policies whose assignment covers ``scope`` and whose rule matches the resource."""
    found = []
    for policy in state.policies:
        if not _covers(policy, scope):
            continue
        listed = policy.get("resource_types")
        if listed is not None and resource_type.lower() not in {t.lower() for t in listed}:
            continue
        if resource_type.lower() in {t.lower() for t in policy.get("not_resource_types", [])}:
            continue
        allowed = policy.get("locations")
        # A location rule judges only resources that have a location: "Allowed locations" is an Indexed-mode
        # definition, which evaluates only resource types that support tags and location (Azure Policy
        # definition structure, "Mode").
        if allowed and (not location or location.lower() in {a.lower() for a in allowed}):
            continue
        found.append(policy)
    return found


def enforce_write(state: State, resource_id: str, resource_type: str, body: Any) -> None:
    location = body.get("location") if isinstance(body, dict) else None
    found = matching(state, resource_id, resource_type, location)
    if found:
        identifiers = ",".join(
            f'{{"policyAssignment":{{"name":"{_assignment_name(p)}","id":"{_assignment_id(p)}"}},"policyDefinition":{{"name":"{p["name"]}","id":"{_definition_id(p)}"}}'
            + (f',"policySetDefinition":{{"name":"{p["initiative"]}","id":"{_set_id(p)}"}}' if p.get("initiative") else "")
            + "}"
            for p in found
        )
        raise ArmError(403, "RequestDisallowedByPolicy", f"Resource '{ids.name_of(resource_id)}' was disallowed by policy. Policy identifiers: '[{identifiers}]'.")


def check_restrictions(state: State, scope: str, body: dict[str, Any]) -> dict[str, Any]:
    details = (body or {}).get("resourceDetails") or {}
    content = details.get("resourceContent") or {}
    if not isinstance(content, dict) or not content.get("type"):
        raise bad_request("resourceDetails.resourceContent must be an object with a 'type'.", "InvalidCheckRestrictionsRequest")
    evaluations = [
        {
            "policyInfo": {
                "policyDefinitionId": _definition_id(p),
                "policyAssignmentId": _assignment_id(p),
                "policyDefinitionReferenceId": p["name"],
                **({"policySetDefinitionId": _set_id(p)} if p.get("initiative") else {}),
            },
            "evaluationResult": "NonCompliant",
            "evaluationDetails": {
                "evaluatedExpressions": [
                    {"result": "True", "expressionKind": "field", "expression": "type", "path": "type",
                     "expressionValue": content["type"].lower(), "targetValue": content["type"].lower(), "operator": "equals"}
                ]
            },
            "effectDetails": {"policyEffect": "Deny"},
        }
        for p in matching(state, scope, content["type"], content.get("location"))
    ]
    return {"fieldRestrictions": [], "contentEvaluationResult": {"policyEvaluations": evaluations}}


def list_assignments(state: State, scope: str, at_scope_only: bool) -> list[dict[str, Any]]:
    """The assignments that apply at ``scope`` (at it and above it) and, unless ``atScope()``, those below it;
    the policies of one initiative are one assignment."""
    found = {_assignment_id(p).lower(): p for p in state.policies if _covers(p, scope) or (not at_scope_only and ids.is_under(p["scope"], scope))}
    return [_assignment_body(p) for p in found.values()]


def get_definition(state: State, definition_id: str) -> dict[str, Any]:
    for p in state.policies:
        if ids.key(_definition_id(p)) == ids.key(definition_id):
            return _definition_body(p)
    raise ArmError(404, "PolicyDefinitionNotFound", f"The policy definition '{ids.name_of(definition_id)}' could not be found.")


def get_set_definition(state: State, set_id: str) -> dict[str, Any]:
    members = [p for p in state.policies if p.get("initiative") and ids.key(_set_id(p)) == ids.key(set_id)]
    if not members:
        raise ArmError(404, "PolicySetDefinitionNotFound", f"The policy set definition '{ids.name_of(set_id)}' could not be found.")
    return {
        "id": _set_id(members[0]),
        "type": "Microsoft.Authorization/policySetDefinitions",
        "name": members[0]["initiative"],
        "properties": {
            "policyType": "Custom", "displayName": members[0]["initiative"], "parameters": {},
            "policyDefinitions": [{"policyDefinitionId": _definition_id(p), "policyDefinitionReferenceId": p["name"], "parameters": {}} for p in members],
        },
    }  # fmt: skip


def _assignment_body(policy: dict[str, Any]) -> dict[str, Any]:
    name = _assignment_name(policy)
    return {
        "id": _assignment_id(policy),
        "type": "Microsoft.Authorization/policyAssignments",
        "name": name,
        "properties": {
            "displayName": name, "policyDefinitionId": _set_id(policy) if policy.get("initiative") else _definition_id(policy),
            "scope": policy["scope"], "notScopes": [], "parameters": {}, "enforcementMode": "Default",
        },
    }  # fmt: skip


def _definition_body(policy: dict[str, Any]) -> dict[str, Any]:
    """A custom definition whose rule says what ``matching`` evaluates, in Azure Policy's rule language."""
    conditions: list[dict[str, Any]] = []
    if policy.get("resource_types") is not None:
        conditions.append({"field": "type", "in": list(policy["resource_types"])})
    if policy.get("not_resource_types"):
        conditions.append({"field": "type", "notIn": list(policy["not_resource_types"])})
    if policy.get("locations"):
        conditions.append({"field": "location", "notIn": list(policy["locations"])})
    rule = {"if": {"allOf": conditions} if conditions else {"field": "type", "like": "*"}, "then": {"effect": "deny"}}
    return {
        "id": _definition_id(policy),
        "type": "Microsoft.Authorization/policyDefinitions",
        "name": policy["name"],
        "properties": {"policyType": "Custom", "mode": "Indexed" if policy.get("locations") else "All", "displayName": policy["name"], "policyRule": rule, "parameters": {}},
    }
