"""What makes the real move refuse travels in the snapshot: the caller's denied actions and the deny policies of
the target (one assigned through an initiative) meet the rehearsal as they meet `amlops move`; a scope the caller may not read is reported as unknown,
not fatal. The source gets reads only."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from app.cli import main
from tests.conftest import SUB, TARGET_SUB, WS_ID, Env

SOURCE_RG = f"/subscriptions/{SUB}/resourceGroups/ml-prod"
MOVE = "Microsoft.Resources/subscriptions/resourceGroups/moveResources/action"
COMPUTES = "Microsoft.MachineLearningServices/workspaces/computes"
TARGET = ["--target-subscription", TARGET_SUB, "--target-resource-group", "ml-moved"]


def _refusals(text: str) -> set[str]:
    return set(re.findall(r"\[(AuthorizationFailed|RequestDisallowedByPolicy|ScopeLocked|ProvidersNotRegistered|OtherTenant)\]", text))


def test_denied_actions_and_target_deny_policies_refuse_the_rehearsal_as_they_refuse_the_move(
    demo: Env, flows_env: Env, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    demo.control.rules(
        denied_actions=[{"scope": SOURCE_RG, "actions": [MOVE]}],
        policies=[
            {"name": "no-ml-compute", "initiative": "ml-guardrails", "scope": f"/subscriptions/{TARGET_SUB}", "resource_types": [COMPUTES]},
            {"name": "eu-only", "scope": f"/subscriptions/{TARGET_SUB}", "locations": ["westeurope", "northeurope"]},  # allows the workspace's region
        ],
    )
    for name, value in demo.emulator.env().items():
        monkeypatch.setenv(name, value)
    mark = demo.control.mark()
    moved = main(["move", "--source", WS_ID, *TARGET])
    said_by_move = capfd.readouterr().err

    out = tmp_path / "ws.yaml"
    assert main(["snapshot", "--workspace", WS_ID, "--out", str(out), *TARGET]) == 0
    spec = yaml.safe_load(out.read_text())
    assert spec["denied_actions"] == [{"scope": SOURCE_RG, "actions": [MOVE]}]  # said once, at the group, not again at the workspace
    assert {p["name"]: p for p in spec["policies"]} == {
        "no-ml-compute": {"name": "no-ml-compute", "initiative": "ml-guardrails", "scope": f"/subscriptions/{TARGET_SUB}", "resource_types": [COMPUTES]},
        "eu-only": {"name": "eu-only", "scope": f"/subscriptions/{TARGET_SUB}", "locations": ["westeurope", "northeurope"]},
    }
    assert demo.control.writes(mark) == [], "neither the refused move nor the snapshot wrote to the source"

    rehearsed = main(["rehearse", "--scenario", str(out), *TARGET])
    said_by_rehearsal = capfd.readouterr().err
    assert moved == rehearsed == 3
    assert _refusals(said_by_move) == _refusals(said_by_rehearsal) == {"AuthorizationFailed", "RequestDisallowedByPolicy"}
    assert MOVE in said_by_rehearsal and "policyAssignments/ml-guardrails" in said_by_rehearsal and "eu-only" not in said_by_rehearsal
    assert demo.control.writes(mark) == []


def test_a_scope_the_caller_may_not_read_is_reported_as_unknown_and_the_rehearsal_goes_on(
    demo: Env, flows_env: Env, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    demo.control.rules(denied_actions=[{"scope": f"/subscriptions/{TARGET_SUB}", "actions": ["*/read"]}])  # no reads in the target at all
    for name, value in demo.emulator.env().items():
        monkeypatch.setenv(name, value)
    out = tmp_path / "ws.yaml"
    mark = demo.control.mark()
    assert main(["snapshot", "--workspace", WS_ID, "--out", str(out), *TARGET]) == 0
    printed = capfd.readouterr().out
    assert {r["status"] for r in demo.control.requests(mark)} >= {403}, "the target's reads were refused"
    assert demo.control.writes(mark) == []
    unknowns = {u["what"]: u for u in yaml.safe_load(out.read_text())["snapshot"]["unknowns"]}
    assert f"could not read subscription {TARGET_SUB}" in unknowns
    assert "AuthorizationFailed" in unknowns[f"could not read subscription {TARGET_SUB}"]["why"]
    assert f"could not read the Azure Policy assignments at /subscriptions/{TARGET_SUB}/resourceGroups/ml-moved" in unknowns
    assert f"unknown: could not read subscription {TARGET_SUB}: the rehearsal cannot tell whether it is in the workspace's tenant" in printed

    code = main(["rehearse", "--scenario", str(out), *TARGET])
    printed = capfd.readouterr().out
    assert code == 0  # what it could read allows the move
    assert f"could not read subscription {TARGET_SUB}: the rehearsal cannot tell whether" in printed
    assert "cannot tell whether Azure Policy denies what the move creates in the target" in printed
    assert "did not read subscription" in printed  # the target was assumed like the source, and it says so
    assert re.search(r"It holds as far as the snapshot could see: \d+ unknown", printed)
