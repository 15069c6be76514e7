"""Resource ids: parsed strictly, with errors that say what to fix."""

from __future__ import annotations

import pytest

from amlops.errors import InvalidInput
from amlops.models import ResourceId, assignment_name

WS = "/subscriptions/11111111-1111-1111-1111-111111111111/resourceGroups/ml-prod/providers/Microsoft.MachineLearningServices/workspaces/ml-prod-ws"


def test_parses_a_workspace_id_and_prints_it_back() -> None:
    rid = ResourceId.parse(WS)
    assert (rid.subscription, rid.resource_group, rid.name) == ("11111111-1111-1111-1111-111111111111", "ml-prod", "ml-prod-ws")
    assert rid.is_workspace and str(rid) == WS
    assert str(rid.child("computes", "ci")) == WS + "/computes/ci"


def test_accepts_lower_case_segments_as_arm_sends_them() -> None:
    assert ResourceId.parse(WS.replace("resourceGroups", "resourcegroups")).resource_group == "ml-prod"


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("ml-prod-ws", "must start with /subscriptions"),
        ("/subscriptions/not-a-guid/resourceGroups/rg", "is not a GUID"),
        ("/subscriptions/11111111-1111-1111-1111-111111111111/resourceGroups/bad name!", "resource group name"),
        ("/subscriptions/11111111-1111-1111-1111-111111111111/resourceGroups/rg/providers/Microsoft.X", "/providers/<Namespace>/<type>/<name>"),
        ("/tenants/x/resourceGroups/rg", "expected /subscriptions/<id>/resourceGroups/<name>"),
    ],
)
def test_malformed_ids_say_what_is_wrong(value: str, says: str) -> None:
    with pytest.raises(InvalidInput, match=says.replace("(", r"\(").replace(")", r"\)")):
        ResourceId.parse(value)


def test_a_storage_account_is_not_a_workspace() -> None:
    rid = ResourceId.parse("/subscriptions/11111111-1111-1111-1111-111111111111/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/sa")
    with pytest.raises(InvalidInput, match="not an Azure ML workspace"):
        rid.require_workspace()


def test_workspace_names_are_checked() -> None:
    with pytest.raises(InvalidInput, match="workspace name"):
        ResourceId.workspace("11111111-1111-1111-1111-111111111111", "rg", "x")


def test_role_assignment_names_are_stable_per_grant() -> None:
    a = assignment_name("/s/x", "/providers/Microsoft.Authorization/roleDefinitions/R1", "P1")
    assert a == assignment_name("/S/X", "/subscriptions/s/providers/Microsoft.Authorization/roleDefinitions/r1", "p1")
    assert a != assignment_name("/s/x", "R2", "P1")
