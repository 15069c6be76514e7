"""Each option of the command reaches the flow as the parameter it names (app/cli.py, app/running.py, app/rehearse.py).

Every case runs the real parser and handler (`app.cli.main`) up to the call of the flow, which a recorder stands
in for: it binds what it was given against the real flow's signature (a parameter the flow does not have fails
here) and stops the command. What each parameter then does is tested at flow level (tests/flows); here, that
an option sets exactly its parameter and nothing else.
"""

from __future__ import annotations

import contextlib
import inspect
import typing
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from pydantic import BaseModel

import amlops.rehearsal
import deployments.fleet
import flows.approve_private_endpoints
import flows.move_workspace
import flows.pauses
import flows.train_with_retries
from amlops.approvals import AllowList
from app.cli import main
from tests.conftest import DEMO, SUB, TARGET_SUB, WS_ID

pytestmark = pytest.mark.unit

MOVE = ["move", "--source", WS_ID, "--target-subscription", TARGET_SUB, "--target-resource-group", "ml-moved"]
OTHER = "33333333-3333-3333-3333-333333333333"
SHARED = f"/subscriptions/{SUB}/resourceGroups/ml-prod/providers/Microsoft.Storage/storageAccounts/sharedstore"


class Called(Exception):
    def __init__(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        super().__init__("the flow was called")
        self.args, self.kwargs = args, kwargs


def _recorder(real: Any) -> Callable[..., Any]:
    signature = inspect.signature(getattr(real, "fn", real))

    def record(*args: Any, **kwargs: Any) -> Any:
        kwargs.pop("return_state", None)
        signature.bind(*args, **kwargs)  # TypeError for a parameter the flow does not take
        raise Called(args, kwargs)

    return record


def _call(monkeypatch: pytest.MonkeyPatch, module: Any, name: str, argv: list[str]) -> Called:
    monkeypatch.setattr(module, name, _recorder(getattr(module, name)))
    with pytest.raises(Called) as called:
        main(argv)
    return called.value


# The flow may take its parameters flat or grouped in models (a MoveRequest, MoveApprovals): the tests read them
# flat, under the command's names, so they hold for either shape.
FLAT_NAMES = {"timeout_seconds": "approval_timeout_seconds", "poll_seconds": "approval_poll_seconds"}


def _flat(kwargs: dict[str, Any]) -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for name, value in kwargs.items():
        if isinstance(value, BaseModel) and not isinstance(value, AllowList):
            flat.update({FLAT_NAMES.get(f, f): getattr(value, f) for f in type(value).model_fields})
        else:
            flat[name] = value
    return flat


def _move(monkeypatch: pytest.MonkeyPatch, argv: list[str]) -> dict[str, Any]:
    return _flat(_call(monkeypatch, flows.move_workspace, "move_workspace", argv).kwargs)


def _flow_defaults(flow: Any) -> dict[str, Any]:
    """The defaults the flow (or the models it takes) declares, flat."""
    hints = typing.get_type_hints(flow.fn)
    defaults: dict[str, Any] = {}
    for name, parameter in inspect.signature(flow.fn).parameters.items():
        models = [t for t in (typing.get_args(hints[name]) or (hints[name],)) if isinstance(t, type) and issubclass(t, BaseModel) and t is not AllowList]
        if models:
            fields = models[0].model_fields.items()
            defaults.update({FLAT_NAMES.get(f, f): info.get_default(call_default_factory=True) for f, info in fields if not info.is_required()})
        elif parameter.default is not inspect.Parameter.empty:
            defaults[name] = parameter.default
    return defaults


def test_a_move_without_options_passes_the_flows_own_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    defaults = _flow_defaults(flows.move_workspace.move_workspace)
    got = _move(monkeypatch, MOVE)
    assert (got["source"], got["target_subscription"], got["target_resource_group"]) == (WS_ID, TARGET_SUB, "ml-moved")
    assert got["private_endpoint_allow_list"] == AllowList() and got["move_shared"] == []
    same = {n: got[n] for n in defaults if n in got and not (defaults[n] is None and n in ("private_endpoint_allow_list", "move_shared"))}
    assert same == {n: defaults[n] for n in same}
    assert {"dry_run", "require_approval", "quiesce_window_minutes", "approval_timeout_seconds"} <= set(same)


MOVE_OPTIONS: list[tuple[list[str], dict[str, Any]]] = [
    (["--dry-run"], {"dry_run": True}),
    (["--exclude-associated"], {"include_associated": False}),
    (["--no-approval"], {"require_approval": False}),
    (["--allow-subscription", SUB, "--allow-subscription", OTHER], {"private_endpoint_allow_list": AllowList(subscriptions=[SUB, OTHER])}),
    (["--allow-resource-group", f"{SUB}/net"], {"private_endpoint_allow_list": AllowList(resource_groups=[f"{SUB}/net"])}),
    (["--allow-endpoint", "*/pe-*"], {"private_endpoint_allow_list": AllowList(endpoint_patterns=["*/pe-*"])}),
    (["--quiesce-window", "5"], {"quiesce_window_minutes": 5}),
    (["--allow-missing-metrics"], {"allow_missing_metrics": True}),
    (["--no-recreate-compute"], {"recreate_compute": False}),
    (["--no-redeploy-endpoints"], {"redeploy_endpoints": False}),
    (["--etag-conflict-policy", "rename"], {"etag_conflict_policy": "rename"}),
    (["--move-shared", SHARED, "--move-shared", SHARED + "2"], {"move_shared": [SHARED, SHARED + "2"]}),
    (["--approve-plan-as", "alice", "--confirm-workspace", "ml-prod-ws"], {"approve_plan_as": "alice", "confirm_workspace": "ml-prod-ws"}),
    (["--approve-private-endpoints-as", "bob"], {"approve_private_endpoints_as": "bob"}),
    (["--approval-timeout", "60", "--approval-poll", "2"], {"approval_timeout_seconds": 60, "approval_poll_seconds": 2}),
]


@pytest.mark.parametrize(("options", "changed"), MOVE_OPTIONS, ids=[o[0][0] for o in MOVE_OPTIONS])
def test_each_move_option_sets_its_parameter_and_nothing_else(monkeypatch: pytest.MonkeyPatch, options: list[str], changed: dict[str, Any]) -> None:
    plain = _move(monkeypatch, MOVE)
    got = _move(monkeypatch, [*MOVE, *options])
    assert got == {**plain, **changed}


@contextlib.contextmanager
def _no_servers() -> Iterator[Any]:
    yield SimpleNamespace(emulator=SimpleNamespace(base_url="https://127.0.0.1:1"))


def _rehearse(monkeypatch: pytest.MonkeyPatch, *options: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """What `amlops rehearse` would load into its private emulator, and what it passes the move (nothing started)."""
    seen: list[dict[str, Any]] = []

    def rehearsal(spec: dict[str, Any], **_: Any) -> Any:
        seen.append(spec)
        return _no_servers()

    monkeypatch.setattr(amlops.rehearsal, "rehearsal", rehearsal)
    argv = ["rehearse", "--scenario", str(DEMO), "--target-subscription", TARGET_SUB, "--target-resource-group", "ml-moved", *options]
    passed = _move(monkeypatch, argv)
    return seen[0], passed


def test_rehearse_passes_the_move_options_it_accepts(monkeypatch: pytest.MonkeyPatch) -> None:
    _, plain = _rehearse(monkeypatch)
    assert plain["approve_plan_as"] == "rehearsal" and plain["confirm_workspace"] == "ml-prod-ws", "unattended by default"
    options = [o for opts, _ in MOVE_OPTIONS for o in opts]
    changed = {k: v for _, c in MOVE_OPTIONS for k, v in c.items() if k != "private_endpoint_allow_list"}
    changed["private_endpoint_allow_list"] = AllowList(subscriptions=[SUB, OTHER], resource_groups=[f"{SUB}/net"], endpoint_patterns=["*/pe-*"])
    _, got = _rehearse(monkeypatch, *options)
    assert got == {**plain, **changed}


def test_rehearse_target_tenant_is_the_tenant_of_the_rehearsed_target(monkeypatch: pytest.MonkeyPatch) -> None:
    tenant = "99999999-9999-9999-9999-999999999999"
    spec, _ = _rehearse(monkeypatch, "--target-tenant", tenant)
    assert {s["id"]: s.get("tenant") for s in spec["subscriptions"]}[TARGET_SUB] == tenant
    spec, _ = _rehearse(monkeypatch)
    assert {s["id"]: s.get("tenant") for s in spec["subscriptions"]}[TARGET_SUB] != tenant


def test_approve_reject_and_decisions_reach_the_answer(monkeypatch: pytest.MonkeyPatch) -> None:
    argv = ["approve", "run-1", "--approver", "carol", "--reason", "not now"]
    got = _call(monkeypatch, flows.pauses, "answer", argv).kwargs
    assert got == {"approve": True, "approver": "carol", "reason": "not now", "workspace_name": "", "decisions": {}}
    got = _call(monkeypatch, flows.pauses, "answer", [*argv, "--reject", "--workspace-name", "ml-prod-ws", "--decide", "pe-1=approve", "--decide", "pe-2=reject"]).kwargs
    assert got == {"approve": False, "approver": "carol", "reason": "not now", "workspace_name": "ml-prod-ws", "decisions": {"pe-1": "approve", "pe-2": "reject"}}


TRAIN = ["train", "--workspace", WS_ID, "--command", "python train.py", "--environment", "azureml:env:1", "--compute", "gpu-cluster", "--checkpoints", "checkpoints:runs/a"]


def test_train_instance_count_and_friends_reach_the_flow(monkeypatch: pytest.MonkeyPatch) -> None:
    plain = _call(monkeypatch, flows.train_with_retries, "train_with_retries", TRAIN).kwargs
    assert plain["instance_count"] == 1
    got = _call(monkeypatch, flows.train_with_retries, "train_with_retries", [*TRAIN, "--instance-count", "4", "--lineage", "L7", "--env", "A=1"]).kwargs
    assert got == {**plain, "instance_count": 4, "lineage": "L7", "environment_variables": {"A": "1"}}


def test_deploy_checkout_or_repository_is_where_workers_find_the_code(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("AMLOPS_GIT_TOKEN", "t0ken")
    called = _call(monkeypatch, deployments.fleet, "deploy", ["deploy", "--work-pool", "pool-a", "--checkout", str(tmp_path)])
    assert called.args == ("pool-a", str(tmp_path.resolve()), None, None, "t0ken", [])
    argv = ["deploy", "--work-pool", "pool-a", "--git-repository", "https://git.example/amlops.git", "--git-revision", "abc123", "--notify", "slack/on-call"]
    called = _call(monkeypatch, deployments.fleet, "deploy", argv)
    assert called.args == ("pool-a", None, "https://git.example/amlops.git", "abc123", "t0ken", ["slack/on-call"])


def test_approve_endpoints_allow_lists_and_timeout_reach_the_flow(monkeypatch: pytest.MonkeyPatch) -> None:
    argv = ["approve-endpoints", "--workspace", WS_ID]
    plain = _call(monkeypatch, flows.approve_private_endpoints, "approve_private_endpoints", argv).kwargs
    assert plain == {"workspace": WS_ID, "allow_list": AllowList(), "timeout_seconds": 3600, "poll_seconds": 10}
    options = ["--allow-subscription", OTHER, "--allow-resource-group", "net", "--allow-endpoint", "*/pe-*", "--timeout", "30", "--poll", "1"]
    got = _call(monkeypatch, flows.approve_private_endpoints, "approve_private_endpoints", [*argv, *options]).kwargs
    assert got == {"workspace": WS_ID, "allow_list": AllowList(subscriptions=[OTHER], resource_groups=["net"], endpoint_patterns=["*/pe-*"]), "timeout_seconds": 30, "poll_seconds": 1}
