"""The approval forms, in one place: what each asks, how its fields are named, and how an answer reads.

`flows.approvals` pauses runs with these forms; `flows.pauses` answers them from a terminal, knowing a
form only by its JSON schema (what the Prefect server stores): both go through the functions here.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from prefect.input import RunInput
from pydantic import Field, create_model

from amlops.approvals import Verdict
from amlops.errors import InvalidInput
from amlops.models import PrivateEndpointConnection

CONNECTION_PREFIX = "c_"  # a connection's field: its name made an identifier; the field's title keeps the name
VERDICTS = ("approve", "reject")
UNDECIDED = "undecided"


class PlanApproval(RunInput):
    """Approve a move plan. Type the workspace name exactly to confirm."""

    approve: bool = Field(default=False, description="Tick to approve the plan shown above")
    approver: str = Field(min_length=1, description="Your name or alias, for the audit record")
    reason: str = Field(default="", description="Why (change ticket, context)")
    workspace_name: str = Field(default="", description="Type the workspace name exactly to confirm")


def field_name(connection: str) -> str:
    return CONNECTION_PREFIX + re.sub(r"\W", "_", connection)


def connection_form(pending: list[PrivateEndpointConnection]) -> type[RunInput]:
    """A form with one approve/reject choice per pending connection: renders as selects in the Prefect UI."""
    fields: dict[str, Any] = {
        field_name(c.name): (
            Literal["approve", "reject", "undecided"],
            Field(default=UNDECIDED, title=c.name, description=f"private endpoint {c.private_endpoint_id}"),
        )
        for c in pending
    }
    fields["approver"] = (str, Field(min_length=1, description="Your name or alias, for the audit record"))
    fields["reason"] = (str, Field(default="", description="Why"))
    return create_model("PrivateEndpointDecisions", __base__=RunInput, **fields)


def verdicts(answer: RunInput, pending: list[PrivateEndpointConnection]) -> dict[str, Verdict]:
    """Connection name -> approve|reject, for each connection of ``pending`` the answer decided."""
    values = answer.model_dump()
    chosen = {c.name: values.get(field_name(c.name), UNDECIDED) for c in pending}
    return {name: verdict for name, verdict in chosen.items() if verdict != UNDECIDED}


# -- from the outside: a paused run's form known by its JSON schema's properties


def is_plan_form(fields: dict[str, dict[str, Any]]) -> bool:
    return "workspace_name" in fields


def connections_asked(fields: dict[str, dict[str, Any]]) -> dict[str, str]:
    """Connection name -> its field, from a connection form's schema."""
    return {spec.get("title", name): name for name, spec in fields.items() if name.startswith(CONNECTION_PREFIX)}


def run_input(fields: dict[str, dict[str, Any]], approve: bool, approver: str, reason: str, workspace_name: str, decisions: dict[str, str]) -> dict[str, Any]:
    """The answer to a paused run's form, checked here so a typo is caught before it is sent."""
    if is_plan_form(fields):
        return {"approve": approve, "approver": approver, "reason": reason, "workspace_name": workspace_name}
    asked = connections_asked(fields)
    unknown = sorted(set(decisions) - set(asked))
    if unknown:
        raise InvalidInput(f"Not pending: {unknown}. Pending connections: {sorted(asked)}.")
    bad = sorted(v for v in decisions.values() if v not in VERDICTS)
    if bad:
        raise InvalidInput(f"Decide each connection with approve or reject, not {bad}.")
    return {**{field: decisions.get(name, UNDECIDED) for name, field in asked.items()}, "approver": approver, "reason": reason}
