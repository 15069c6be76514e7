"""Azure Policy deny assignments and Microsoft.PolicyInsights/checkPolicyRestrictions.

A scenario assigns deny policies at a scope: ``{"name", "scope", "resource_types": [...], "locations": [...]}``
(a resource matches when its type is listed, and, when ``locations`` is given, its location is not among them:
the shape of the built-in "Not allowed resource types" and "Allowed locations" definitions).
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


def _assignment_id(policy: dict[str, Any]) -> str:
    return f"{policy['scope'].rstrip('/')}/providers/Microsoft.Authorization/policyAssignments/{policy['name']}"


def _definition_id(policy: dict[str, Any]) -> str:
    sub = ids.subscription_of(policy["scope"]) or ""
    return f"/subscriptions/{sub}/providers/Microsoft.Authorization/policyDefinitions/{policy['name']}"


def matching(state: State, scope: str, resource_type: str, location: str | None) -> list[dict[str, Any]]:
    """Deny policies whose assignment covers ``scope`` and whose rule matches the resource."""
    found = []
    for policy in state.policies:
        if not (ids.key(scope) == ids.key(policy["scope"]) or ids.is_under(scope, policy["scope"])):
            continue
        if resource_type.lower() not in {t.lower() for t in policy.get("resource_types", [])}:
            continue
        allowed = policy.get("locations")
        if allowed and location and location.lower() in {a.lower() for a in allowed}:
            continue
        found.append(policy)
    return found


def enforce_write(state: State, resource_id: str, resource_type: str, body: Any) -> None:
    location = body.get("location") if isinstance(body, dict) else None
    found = matching(state, resource_id, resource_type, location)
    if found:
        identifiers = ",".join(
            f'{{"policyAssignment":{{"name":"{p["name"]}","id":"{_assignment_id(p)}"}},"policyDefinition":{{"name":"{p["name"]}","id":"{_definition_id(p)}"}}}}'
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
