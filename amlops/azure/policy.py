"""Azure Policy, asked before writing: Microsoft.PolicyInsights/checkPolicyRestrictions (2022-03-01) at a resource
group, for the resource types a move will create there."""

from __future__ import annotations

from amlops.azure import rest
from amlops.azure.clients import Clients
from amlops.azure.retry import Kind
from amlops.models import PolicyDenial

POLICY_INSIGHTS_API = "2022-03-01"


def denials(clients: Clients, group_id: str, resource_type: str, location: str) -> list[PolicyDenial]:
    """Policy assignments that evaluate a new ``resource_type`` in ``location`` under the group as NonCompliant."""
    subscription = group_id.split("/")[2]
    body = {"resourceDetails": {"resourceContent": {"type": resource_type, "location": location}, "apiVersion": rest.ML_API}}
    answer = rest.send(clients, subscription, "POST", f"{group_id.rstrip('/')}/providers/Microsoft.PolicyInsights/checkPolicyRestrictions", POLICY_INSIGHTS_API, body, kind=Kind.READ) or {}
    found = []
    for evaluation in (answer.get("contentEvaluationResult") or {}).get("policyEvaluations") or []:
        if evaluation.get("evaluationResult") != "NonCompliant":
            continue
        info = evaluation.get("policyInfo") or {}
        found.append(PolicyDenial(resource_type=resource_type, policy_assignment_id=info.get("policyAssignmentId", ""), policy_definition_id=info.get("policyDefinitionId", "")))
    return found
