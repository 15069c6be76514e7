"""The pure parts of a rehearsal: declaring the target subscription, and which locks a move meets."""

from __future__ import annotations

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
