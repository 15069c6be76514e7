"""What makes the real move refuse, carried from a snapshot's reads into the emulator's scenario terms. Pure.

- The caller's permissions (REST: Permissions - List For Resource Group / For Resource, 2022-04-01) become
  ``denied_actions``: at each scope read, the actions a move performs, and the caller's own notActions, that no
  permission entry grants (effective permissions are actions minus notActions: role-based-access-control/
  role-definitions, "NotActions"), said once at the broadest scope read.
- Deny policies (REST: Policy Assignments - List, Policy Definitions - Get, 2023-04-01) become ``policies``
  where their rule is a conjunction of tests on ``type`` and ``location`` (Azure Policy definition structure:
  conditions ``equals``, ``in``, ``notEquals``, ``notIn``, ``like``; logical ``allOf`` and ``not``), parameters
  resolved from the assignment, else the definition's defaultValue; an assignment with enforcementMode
  DoNotEnforce, or whose notScopes cover the target, denies nothing. An initiative (REST: Policy Set
  Definitions - Get) is read member by member, each with the values the initiative passes it. Any other
  condition is an unknown the rehearsal reports, never a guess.
"""

from __future__ import annotations

import json
import re
from typing import Any, NamedTuple

from amlops.models import Permission
from amlops.move import preflight

ML = preflight.ML
# What a move does that a permission can refuse: the preflight's own list and the writes of the rebuild.
MOVE_ACTIONS = (
    preflight.MOVE_ACTION, "Microsoft.Resources/subscriptions/resourceGroups/validateMoveResources/action", preflight.GROUP_WRITE,
    preflight.ROLE_ASSIGNMENT_WRITE, f"{ML}/write", f"{ML}/computes/write", f"{ML}/computes/delete", f"{ML}/onlineEndpoints/write",
    f"{ML}/onlineEndpoints/delete", f"{ML}/onlineEndpoints/deployments/write", f"{ML}/batchEndpoints/write", f"{ML}/batchEndpoints/delete",
    f"{ML}/datastores/write", f"{ML}/privateEndpointConnections/write",
)  # fmt: skip


def under(resource_id: str, scope: str) -> bool:
    """Whether ``resource_id`` is ``scope`` or lies below it (ARM ids compare case-insensitively)."""
    return resource_id.lower().rstrip("/") == scope.lower().rstrip("/") or resource_id.lower().startswith(scope.lower().rstrip("/") + "/")


def denied_actions(permissions: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """The caller's refusals, as the scenario declares them: at each scope read, the move's actions and the
    caller's own notActions that no permission entry there grants; what a broader scope already denies is not
    said again below it."""
    said: list[tuple[str, set[str]]] = []
    found = []
    for scope in sorted(permissions, key=lambda s: len(s.rstrip("/"))):  # broader scopes first
        entries = permissions[scope]
        granted = [Permission(actions=e.get("actions") or [], not_actions=e.get("notActions") or []) for e in entries]
        candidates = dict.fromkeys([*MOVE_ACTIONS, *(n for e in entries for n in e.get("notActions") or [])])
        denied = [a for a in candidates if not preflight.allowed(a, granted)]
        above = {a.lower() for at, actions in said if under(scope, at) for a in actions}
        new = [a for a in denied if a.lower() not in above]
        said.append((scope, {a.lower() for a in denied}))
        if new:
            found.append({"scope": scope, "actions": new})
    return found


class Untranslatable(Exception):
    """A policy rule the emulator's deny policies cannot say."""


_PARAMETER = re.compile(r"^\[parameters\('([^']+)'\)\]$")


def _resolved(value: Any, assignment: dict[str, Any], definition: dict[str, Any]) -> Any:
    """A rule's value with ``[parameters('x')]`` replaced: the assignment's value, else the definition's default."""
    if not isinstance(value, str) or not _PARAMETER.match(value):
        return value
    name = _PARAMETER.match(value).group(1)  # type: ignore[union-attr]
    given = ((assignment.get("properties") or {}).get("parameters") or {}).get(name) or {}
    if "value" in given:
        return given["value"]
    declared = ((definition.get("properties") or {}).get("parameters") or {}).get(name) or {}
    if "defaultValue" in declared:
        return declared["defaultValue"]
    raise Untranslatable(f"parameter {name!r} has no value")


_NEGATED = {"equals": "notEquals", "in": "notIn", "notEquals": "equals", "notIn": "in"}


def _conditions(condition: dict[str, Any], negate: bool = False) -> list[tuple[str, str, Any]]:
    """An ``if`` as a conjunction of (field, operator, value), or Untranslatable."""
    if "allOf" in condition and not negate:
        return [c for part in condition["allOf"] for c in _conditions(part)]
    if "not" in condition:
        return _conditions(condition["not"], not negate)
    field_name = str(condition.get("field", "")).lower()
    ops = [op for op in ("equals", "in", "notEquals", "notIn", "like") if op in condition]
    if field_name not in ("type", "location") or len(ops) != 1 or (negate and ops[0] == "like"):
        raise Untranslatable(f"its rule tests {json.dumps(condition)[:160]}, which a rehearsal cannot evaluate")
    op = _NEGATED[ops[0]] if negate else ops[0]
    return [(field_name, op, condition[ops[0]])]


def policy_rule(assignment: dict[str, Any], definition: dict[str, Any]) -> dict[str, Any] | None:
    """A deny definition as assigned, in the emulator's terms (resource_types, not_resource_types, locations);
    None when its effect does not deny. Raises Untranslatable for conditions beyond type and location."""
    rule = (definition.get("properties") or {}).get("policyRule") or {}
    effect = _resolved((rule.get("then") or {}).get("effect"), assignment, definition)
    if not isinstance(effect, str) or effect.lower() != "deny":
        return None
    said: dict[str, Any] = {}
    for name, op, raw in _conditions(rule.get("if") or {}):
        value = _resolved(raw, assignment, definition)
        values = [str(v) for v in value] if isinstance(value, list) else [str(value)]
        if name == "type" and op == "like" and values == ["*"]:
            continue  # every type
        if name == "type" and op in ("equals", "in"):
            have = said.get("resource_types")
            said["resource_types"] = values if have is None else [t for t in have if t.lower() in {v.lower() for v in values}]
        elif name == "type" and op in ("notEquals", "notIn"):
            said["not_resource_types"] = [*said.get("not_resource_types", []), *values]
        elif name == "location" and op in ("notEquals", "notIn"):  # denied outside these: they are the allowed ones
            said["locations"] = [*said.get("locations", []), *values]
        else:
            raise Untranslatable(f"its rule tests {name} with {op!r}, which a rehearsal cannot evaluate")
    return said


class _Member(NamedTuple):
    reference: str | None  # its policyDefinitionReferenceId in an initiative; None for a definition assigned alone
    definition: dict[str, Any] | None  # None when it was not read (403): already an unknown
    initiative: dict[str, Any] | None = None
    parameters: dict[str, Any] | None = None  # the values the initiative passes it, as written there


def _members(assignment: dict[str, Any], definitions: dict[str, dict[str, Any]]) -> list[_Member]:
    """What an assignment assigns: a definition alone, or each member of an initiative."""
    definition_id = (assignment.get("properties") or {}).get("policyDefinitionId", "")
    found = definitions.get(definition_id.lower())
    if "/policysetdefinitions/" not in definition_id.lower():
        return [_Member(None, found)]
    if found is None:
        return []  # the initiative itself was not read (403): already an unknown
    return [
        _Member(m.get("policyDefinitionReferenceId") or m["policyDefinitionId"].rsplit("/", 1)[-1], definitions.get(m["policyDefinitionId"].lower()), found, m.get("parameters") or {})
        for m in (found.get("properties") or {}).get("policyDefinitions") or []
    ]


def _as_assigned(assignment: dict[str, Any], member: _Member) -> dict[str, Any]:
    """The assignment as the member's definition sees it: an initiative's values may name the initiative's own
    parameters, resolved from the assignment, else the initiative's defaultValue."""
    if member.initiative is None:
        return assignment
    values = {k: {"value": _resolved((v or {}).get("value"), assignment, member.initiative)} for k, v in (member.parameters or {}).items()}
    return {"properties": {"parameters": values}}


def deny_policies(assignments: list[dict[str, Any]], definitions: dict[str, dict[str, Any]], at: str, target_subscription: str) -> tuple[list[dict[str, Any]], list[dict[str, str]]]:
    """The deny policies of ``assignments`` (listed at ``at``, where the move creates resources; ``definitions``,
    initiatives' included, by lower-cased id) as scenario ``policies``, and those a rehearsal cannot judge (rules
    beyond type and location) as unknowns."""
    policies, unknowns = [], []
    unknown = "whether it denies what the move creates in the target"
    for assignment in assignments:
        props = assignment.get("properties") or {}
        if str(props.get("enforcementMode", "Default")).lower() == "donotenforce":
            continue  # Azure evaluates it but denies nothing
        if any(under(at, s) for s in props.get("notScopes") or []):
            continue
        scope = props.get("scope") or assignment["id"].split("/providers/Microsoft.Authorization/policyAssignments/")[0]
        if not scope.lower().startswith("/subscriptions/"):  # a management group: it covers the target subscription
            scope = f"/subscriptions/{target_subscription}"
        for member in _members(assignment, definitions):
            if member.definition is None:
                continue  # not read (403): already an unknown
            try:
                said = policy_rule(_as_assigned(assignment, member), member.definition)
            except Untranslatable as err:
                what = f"could not evaluate policy assignment {assignment['id']}" + (f" (its policy {member.reference})" if member.reference else "")
                unknowns.append({"what": what, "why": str(err), "unknown": unknown})
                continue
            if said is not None:
                named = {"name": member.reference, "initiative": assignment["name"]} if member.reference else {"name": assignment["name"]}
                policies.append({**named, "scope": scope, **said})
    return policies, unknowns
