"""Running a flow here and now, in this process: the options a move takes (``amlops move`` and ``amlops
rehearse`` share them), and a flow run's end turned into an outcome for the CLI to say."""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from amlops.errors import AmlopsError

if TYPE_CHECKING:
    from amlops.approvals import AllowList


def move_options(m: argparse.ArgumentParser) -> None:
    """What a move takes besides source and target: amlops move and amlops rehearse share them."""
    m.add_argument("--dry-run", action="store_true", help="plan only: no change at all")
    m.add_argument("--exclude-associated", action="store_true", help="leave storage, key vault, registry and insights where they are")
    m.add_argument("--no-approval", action="store_true", help="do not pause for a plan approval")
    m.add_argument("--approve-plan-as", help="unattended: approve the plan as this person (needs --confirm-workspace)")
    m.add_argument("--confirm-workspace", help="the workspace name, typed exactly, to confirm --approve-plan-as")
    m.add_argument("--approve-private-endpoints-as", help="unattended: approve every new Pending connection as this person")
    allow_list_options(m)
    m.add_argument("--quiesce-window", type=int, default=60, help="minutes of endpoint traffic that block the move")
    m.add_argument("--allow-missing-metrics", action="store_true", help="go ahead when Azure Monitor has no request data for an endpoint (recorded in the manifest)")
    m.add_argument("--no-recreate-compute", action="store_true")
    m.add_argument("--no-redeploy-endpoints", action="store_true")
    m.add_argument("--etag-conflict-policy", choices=["report", "rename"], default="report")
    m.add_argument("--move-shared", action="append", default=[], metavar="RESOURCE_ID", help="move this associated resource although other workspaces use it")
    m.add_argument("--approval-timeout", type=int, default=3600, help="seconds to wait for a person")
    m.add_argument("--approval-poll", type=int, default=10, help="seconds between checks for an answer")


def starter_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--started-by", metavar="NAME", help="who starts this run (tagged started-by:NAME): NAME may not approve it")


@contextlib.contextmanager
def started_by(name: str | None) -> Iterator[None]:
    """Runs started inside carry the tag `started-by:NAME`, what an open-source Prefect server knows of their starter
    (amlops.approvers): the approvals then refuse NAME's answers."""
    if not (name and name.strip()):
        yield
        return
    from prefect import tags

    from amlops.approvers import STARTED_BY_TAG

    with tags(STARTED_BY_TAG + name.strip()):
        yield


def allow_list_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--allow-subscription", action="append", default=[], help="auto-approve private endpoints from this subscription")
    parser.add_argument("--allow-resource-group", action="append", default=[], help="auto-approve private endpoints from this resource group")
    parser.add_argument("--allow-endpoint", action="append", default=[], help="auto-approve private endpoints whose id matches this pattern")


def allow_list(args: argparse.Namespace) -> AllowList:
    from amlops.approvals import AllowList

    return AllowList(subscriptions=args.allow_subscription, resource_groups=args.allow_resource_group, endpoint_patterns=args.allow_endpoint)


def move_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    """The move-workspace flow's two parameters, the request and how people are asked, from ``move_options``."""
    from amlops.move import MoveApprovals, MoveRequest

    request = MoveRequest(
        source=args.source,
        target_subscription=args.target_subscription,
        target_resource_group=args.target_resource_group,
        include_associated=not args.exclude_associated,
        dry_run=args.dry_run,
        private_endpoint_allow_list=allow_list(args),
        quiesce_window_minutes=args.quiesce_window,
        allow_missing_metrics=args.allow_missing_metrics,
        recreate_compute=not args.no_recreate_compute,
        redeploy_endpoints=not args.no_redeploy_endpoints,
        etag_conflict_policy=args.etag_conflict_policy,
        move_shared=args.move_shared,
    )
    approvals = MoveApprovals(
        require_approval=not args.no_approval,
        approve_plan_as=args.approve_plan_as,
        confirm_workspace=args.confirm_workspace,
        approve_private_endpoints_as=args.approve_private_endpoints_as,
        timeout_seconds=args.approval_timeout,
        poll_seconds=args.approval_poll,
    )
    return {"request": request, "approvals": approvals}


def run_move(kwargs: dict[str, Any]) -> int:
    """Run the flow here and now; print the outcome; return the exit code."""
    from flows.move_workspace import move_workspace

    outcome = settled(move_workspace(**kwargs, return_state=True), "The move did not complete.")
    print(f"\nMove {outcome.move_id}: {outcome.status}. {outcome.source} -> {outcome.target}")
    return 0


def settled(state: Any, heading: str) -> Any:
    """A flow run's result; an outcome it ended with is raised, with ``heading`` to say what stopped."""
    outcome = state.result(raise_on_failure=False)
    if isinstance(outcome, BaseException):
        if isinstance(outcome, AmlopsError):
            outcome.add_note(heading)
        raise outcome
    return outcome
