"""The approval forms: what the UI renders, what `amlops approve` sends back, and how the flow reads it."""

from __future__ import annotations

import pytest
from pydantic import BaseModel

from amlops.errors import InvalidInput
from amlops.models import PrivateEndpointConnection
from flows import forms

PE = "/subscriptions/33333333-3333-3333-3333-333333333333/resourceGroups/net/providers/Microsoft.Network/privateEndpoints/"
PENDING = [PrivateEndpointConnection(name=n, id=f"/x/{n}", private_endpoint_id=PE + n, status="Pending") for n in ("hub.pe-1", "partner-2", "late-3")]


def _schema(form: type[BaseModel]) -> dict[str, dict[str, object]]:
    """The form as the Prefect server stores it, the only thing `amlops approve` sees."""
    return form.model_json_schema()["properties"]


def test_an_answer_from_the_terminal_reads_back_as_the_decisions_it_was_given() -> None:
    form = forms.connection_form(PENDING)
    sent = forms.run_input(_schema(form), True, "bob", "INC-7", "", {"hub.pe-1": "approve", "partner-2": "reject"})
    assert forms.verdicts(form(**sent), PENDING) == {"hub.pe-1": "approve", "partner-2": "reject"}, "late-3 stays undecided"


def test_connection_names_that_are_not_identifiers_keep_their_name_as_the_title() -> None:
    schema = _schema(forms.connection_form(PENDING))
    assert forms.connections_asked(schema) == {"hub.pe-1": "c_hub_pe_1", "partner-2": "c_partner_2", "late-3": "c_late_3"}
    assert not forms.is_plan_form(schema) and forms.is_plan_form(_schema(forms.PlanApproval))


@pytest.mark.parametrize(("decisions", "says"), [({"unknown-9": "approve"}, "Not pending: ['unknown-9']"), ({"partner-2": "yes"}, "approve or reject, not ['yes']")])
def test_a_typo_in_an_answer_is_refused_before_it_is_sent(decisions: dict[str, str], says: str) -> None:
    with pytest.raises(InvalidInput, match=says.replace("[", r"\[").replace("]", r"\]")):
        forms.run_input(_schema(forms.connection_form(PENDING)), True, "bob", "", "", decisions)


def test_a_plan_answer_carries_the_typed_workspace_name() -> None:
    sent = forms.run_input(_schema(forms.PlanApproval), False, "carol", "not today", "ml-prod-ws", {})
    assert forms.PlanApproval(**sent) == forms.PlanApproval(approve=False, approver="carol", reason="not today", workspace_name="ml-prod-ws")
