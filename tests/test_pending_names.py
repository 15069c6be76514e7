"""`amlops pending` names what a run waits for as `amlops approve --decide` wants it: connection names, not field ids."""

from __future__ import annotations

from amlops.models import PrivateEndpointConnection
from flows.forms import connection_form, run_input
from flows.pauses import PausedRun

PE = "/subscriptions/44444444-4444-4444-4444-444444444444/resourceGroups/corp/providers/Microsoft.Network/privateEndpoints/pe-corp-hub"


def _paused(fields: dict) -> PausedRun:
    return PausedRun(id="r", name="n", flow_name="f", paused_at="", timeout_at="", form_title="t", fields=fields, description="")


def test_a_connection_form_is_listed_by_connection_name() -> None:
    connection = PrivateEndpointConnection(name="pe-corp-hub-d527146d", id=f"{PE}/c", private_endpoint_id=PE, status="Pending")
    fields = connection_form([connection]).model_json_schema()["properties"]
    run = _paused(fields)
    assert "c_pe_corp_hub_d527146d" in fields and run.asks == ["pe-corp-hub-d527146d", "approver", "reason"]
    answer = run_input(fields, True, "bob", "", "", {run.asks[0]: "approve"})  # what pending lists is what --decide takes
    assert answer["c_pe_corp_hub_d527146d"] == "approve"


def test_a_plan_form_is_listed_by_its_fields() -> None:
    assert _paused({"approve": {}, "approver": {}, "workspace_name": {}}).asks == ["approve", "approver", "workspace_name"]
