"""Human approval pauses: typed forms an on-call engineer fills in the Prefect UI (or `amlops approve`).

Input that does not make sense (a mistyped workspace name, an unknown connection) is refused and the
person is asked again; the run does not fail for a typo. A timeout decides nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from prefect import get_run_logger
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.client.orchestration import get_client
from prefect.context import FlowRunContext
from prefect.exceptions import FlowPauseTimeout
from prefect.flow_runs import pause_flow_run, suspend_flow_run
from prefect.input import RunInput
from prefect.states import Failed

from amlops import approvers as approver_rules
from amlops.approvals import AllowList, Decision, Verdict, check_decisions
from amlops.errors import ApprovalTimedOut, PlanNotApproved
from amlops.models import PrivateEndpointConnection, ResourceId
from flows.forms import PlanApproval, connection_form, verdicts
from flows.pauses import approval_guard
from tasks import approvals as approval_tasks


def fail_run_with(message: str) -> None:
    """On a pause timeout the server fails the run with its own words; put ours, which say what is left, in their place."""
    context = FlowRunContext.get()
    if context and context.flow_run:
        with get_client(sync_client=True) as client:
            client.set_flow_run_state(context.flow_run.id, Failed(message=message), force=True)


# Pause keys: one per question a run may ask, stable across the re-runs a suspend causes.
PLAN_KEY = "plan"
PRIVATE_ENDPOINTS_KEY = "private-endpoints"
WAITS_FOR = {
    # pause keys of the flows' approvals (each asking is `<key>-<n>`) -> what the person is asked
    PLAN_KEY: "approval of the move plan (type the workspace name to confirm)",
    PRIVATE_ENDPOINTS_KEY: "decisions on the new Pending private endpoint connections",
}
WAITING_EVENT = "amlops.approval.waiting"  # emitted as a run pauses: its pause key and what it asks (on-call listens)


def _announce_waiting(key: str, suspend: bool) -> None:
    """Say which question the run is about to wait on: Prefect's Paused/Suspended events carry no pause key."""
    from prefect.events import emit_event

    context = FlowRunContext.get()
    if not (context and context.flow_run):
        return
    question = next((text for prefix, text in WAITS_FOR.items() if key.startswith(prefix + "-")), "the form in the run")
    emit_event(
        event=WAITING_EVENT,
        resource={"prefect.resource.id": f"prefect.flow-run.{context.flow_run.id}", "prefect.resource.name": context.flow_run.name},
        payload={"pause_key": key, "state": "Suspended" if suspend else "Paused", "waits_for": question},
    )


def _paused(form: type[RunInput], description: str, timeout: int, poll_interval: int, suspend: bool, key: str) -> Any:
    """Pause (or, from a deployment, suspend) for a typed answer.

    The key names this question for the run's whole life: a suspended run starts again from the top, and
    Prefect hands a keyed pause that was already answered its stored answer. Without keys, Prefect counts
    pauses per process, so after a resume the second question of a move would read the first one's answer.
    """
    prepared = form.with_initial_data(description=description)
    _announce_waiting(key, suspend)
    if suspend:
        return suspend_flow_run(wait_for_input=prepared, timeout=timeout, key=key)
    return pause_flow_run(wait_for_input=prepared, timeout=timeout, poll_interval=poll_interval, key=key)


def _can_suspend() -> bool:
    """Suspending frees the process but re-runs the flow from the top: only from a deployment."""
    context = FlowRunContext.get()
    return bool(context and context.flow_run and context.flow_run.deployment_id)


def who_may_approve() -> tuple[list[str] | None, str | None]:
    """This run's list of approvers (the Prefect variable, per deployment) and who started it, when known."""
    context = FlowRunContext.get()
    if context is None or context.flow_run is None:
        return None, None
    return approval_guard(str(context.flow_run.id))


def ask_until_valid(
    form: type[RunInput],
    describe: Callable[[list[str]], str],
    problems_of: Callable[[Any], list[str]],
    timeout: int,
    poll_interval: int,
    key: str,
    suspend: bool | None = None,
) -> Any:
    """Pause until a person gives an answer without problems; a bad answer is explained and asked again.

    Each asking has its own key (`plan-1`, `plan-2`, ...), so a run re-executed after a suspend replays
    the refused answers in order and waits at the first question nobody has answered yet.
    """
    logger = get_run_logger()
    problems: list[str] = []
    suspend = _can_suspend() if suspend is None else suspend
    allowed, starter = who_may_approve()  # every answer is checked against them, refusals and approvals alike
    attempt = 0
    while True:
        attempt += 1
        try:
            answer = _paused(form, describe(problems), timeout, poll_interval, suspend, f"{key}-{attempt}")
        except FlowPauseTimeout as err:
            raise ApprovalTimedOut(f"Nobody answered within {timeout} s.") from err
        problems = list(dict.fromkeys(approver_rules.approver_problems(str(answer.approver), allowed, starter) + problems_of(answer)))
        if not problems:
            return answer
        logger.warning("The answer was refused, asking again: %s", "; ".join(problems))


def approve_plan(
    plan_markdown: str, workspace_name: str, timeout: int, poll_interval: int = 10, approve_as: str | None = None, confirm_workspace: str | None = None, digest: str = ""
) -> PlanApproval:
    """The operator's approval of a move plan: from a policy flag for unattended runs, else a person. The question is
    keyed by the plan's digest: a run started again after a suspend takes a stored answer only for the same plan."""
    logger = get_run_logger()
    if approve_as is not None:
        if confirm_workspace != workspace_name:
            raise PlanNotApproved(f"Unattended approval needs the workspace name confirmed exactly: got {confirm_workspace!r}, the workspace is {workspace_name!r}.")
        logger.info("Plan approved by policy flag, as %s", approve_as)
        return PlanApproval(approve=True, approver=approve_as, reason="approved by policy flag", workspace_name=workspace_name)

    def describe(problems: list[str]) -> str:
        retry = "".join(f"\n> **Your last answer was refused:** {p}\n" for p in problems)
        return f"{retry}\n{plan_markdown}\n\n**To approve**, tick *approve*, give your name and a reason, and type `{workspace_name}` to confirm."

    def problems_of(answer: PlanApproval) -> list[str]:
        if not answer.approve:
            return []  # a refusal is a valid answer
        found = []
        if answer.workspace_name != workspace_name:
            found.append(f"the workspace name typed was {answer.workspace_name!r}, not {workspace_name!r}")
        if not answer.approver.strip():
            found.append("the approver's name is empty")
        return found

    try:
        answer = ask_until_valid(PlanApproval, describe, problems_of, timeout, poll_interval, key=f"{PLAN_KEY}-{digest}" if digest else PLAN_KEY)
    except ApprovalTimedOut as err:
        message = f"The plan was not approved: nobody answered within {timeout} s. Nothing was changed."
        fail_run_with(message)
        raise PlanNotApproved(message) from err
    _record_plan_answer(answer)
    if not answer.approve:
        raise PlanNotApproved(f"The plan was rejected by {answer.approver or 'someone'}: {answer.reason or 'no reason given'}. Nothing was changed.")
    logger.info("Plan approved by %s: %s", answer.approver, answer.reason)
    return answer


def _record_plan_answer(answer: PlanApproval) -> None:
    """Who answered the plan and who started the run: a table artifact beside the decision."""
    _, starter = who_may_approve()
    row = {"verdict": "approve" if answer.approve else "reject", "decided_by": answer.approver, "started_by": starter or "unknown", "reason": answer.reason}
    create_table_artifact(key="plan-decision", table=[row], description="Who decided the move plan, and who started the run")


# -- private endpoint connections


def connections_markdown(pending: list[PrivateEndpointConnection], workspace: ResourceId, allow: AllowList, previously_approved: set[str]) -> str:
    """What the person decides about, one connection per item (a wide table does not fit the resume dialog)."""
    items = []
    for c in pending:
        was = "yes" if c.private_endpoint_id.lower() in previously_approved else "no"
        items.append(
            f"- **{c.name}**: private endpoint `{c.private_endpoint_id.rsplit('/', 1)[-1]}` in subscription `{c.endpoint_subscription}`, "
            f"network resource group `{c.endpoint_resource_group}`; request message: {c.description or '(none)'}; "
            f"allow-list: {allow.match(c) or 'no match'}; approved before the move: {was}"
        )
    return f"## Pending private endpoint connections on `{workspace.name}`\n\n" + "\n".join(items) + "\n\nChoose approve or reject for each; leave *undecided* to decide later."


def decide_private_endpoints(
    workspace: ResourceId,
    allow: AllowList,
    timeout: int,
    poll_interval: int = 10,
    decide_rest_as: tuple[str, Verdict] | None = None,
    previously_approved: set[str] | None = None,
) -> list[Decision]:
    """Approve the allow-listed Pending connections, ask a person (or a policy) about the rest, act, audit.

    After a move (``previously_approved`` given), the allow-list and the policy decide only connections of
    private endpoints that were Approved before it: one a person had Rejected, or never decided, is a
    person's to decide again, never approved by a rule. Unattended (a policy given), those are left Pending
    and reported rather than waited for.
    """
    decided, needs_person = decide_by_rules(workspace, allow, decide_rest_as, previously_approved)
    return decided + ask_a_person(workspace, needs_person, allow, timeout, poll_interval, previously_approved, decided)


def decide_by_rules(
    workspace: ResourceId, allow: AllowList, decide_rest_as: tuple[str, Verdict] | None = None, previously_approved: set[str] | None = None
) -> tuple[list[Decision], list[PrivateEndpointConnection]]:
    """The Pending connections a rule decides (the allow-list, the policy flag), acted on at once without asking
    anyone, so they need not wait for a person or for anything else the caller does meanwhile (a move's rebuild);
    and the connections left for a person (``ask_a_person``). Audited there, with the person's decisions."""
    pending = approval_tasks.pending_connections(workspace)
    decisions: list[Decision] = []
    needs_person, for_a_person_later = [], []
    for conn in pending:
        eligible = previously_approved is None or conn.private_endpoint_id.lower() in previously_approved
        why = allow.match(conn) if eligible else None
        if why:
            decisions.append(Decision(connection=conn.name, private_endpoint_id=conn.private_endpoint_id, verdict="approve", decided_by="allow-list", reason=why, via="allow-list"))
        elif eligible and decide_rest_as is not None:
            who, verdict = decide_rest_as
            decisions.append(Decision(connection=conn.name, private_endpoint_id=conn.private_endpoint_id, verdict=verdict, decided_by=who, reason="decided by policy flag", via="policy"))
        elif decide_rest_as is not None:
            for_a_person_later.append(conn)
        else:
            needs_person.append(conn)
    if for_a_person_later:
        get_run_logger().warning(
            "Not approved before the move, so left Pending for a person (amlops approve-endpoints): %s",
            ", ".join(f"{p.name} ({p.private_endpoint_id})" for p in for_a_person_later),
        )
    return [approval_tasks.act_on_connection(workspace, d) for d in decisions], needs_person


def ask_a_person(
    workspace: ResourceId,
    needs_person: list[PrivateEndpointConnection],
    allow: AllowList,
    timeout: int,
    poll_interval: int = 10,
    previously_approved: set[str] | None = None,
    decided: list[Decision] | None = None,
) -> list[Decision]:
    """Ask a person about ``needs_person`` (nobody is asked if it is empty), act on the answers, and audit them with
    the rules' ``decided``; returns the person's decisions as acted on."""
    logger = get_run_logger()
    decisions: list[Decision] = []
    timed_out: list[str] = []
    if needs_person:
        form = connection_form(needs_person)
        by_name = {p.name: p for p in needs_person}
        table = connections_markdown(needs_person, workspace, allow, previously_approved or set())

        def describe(problems: list[str]) -> str:
            return "".join(f"> **Your last answer was refused:** {p}\n\n" for p in problems) + table

        def problems_of(answer: Any) -> list[str]:
            chosen = verdicts(answer, needs_person)
            found = check_decisions([p.name for p in needs_person], chosen)
            if chosen and not str(answer.approver).strip():
                found.append("the approver's name is empty")
            return found

        try:
            answer = ask_until_valid(form, describe, problems_of, timeout, poll_interval, key=PRIVATE_ENDPOINTS_KEY)
            for name, verdict in verdicts(answer, needs_person).items():
                conn = by_name[name]
                decisions.append(Decision(connection=name, private_endpoint_id=conn.private_endpoint_id, verdict=verdict, decided_by=answer.approver, reason=answer.reason, via="person"))
        except ApprovalTimedOut:
            timed_out = [p.name for p in needs_person]
    acted = [approval_tasks.act_on_connection(workspace, d) for d in decisions]
    audit(workspace, [*(decided or []), *acted])
    undecided = timed_out or [p.name for p in needs_person if p.name not in {d.connection for d in acted}]
    if timed_out:
        message = f"Private endpoint approval timed out after {timeout} s: nothing was changed. Undecided, left Pending: {', '.join(timed_out)}."
        logger.error(message)
        fail_run_with(message)
        raise ApprovalTimedOut(message, details=[{"undecided": n} for n in timed_out])
    if undecided:
        logger.warning("Left undecided (still Pending): %s", ", ".join(undecided))
    return acted


def audit(workspace: ResourceId, decisions: list[Decision]) -> None:
    """Who decided what, when and why: a table artifact and a log line each."""
    logger = get_run_logger()
    for d in decisions:
        logger.info("Connection %s: %s by %s via %s (%s) -> %s", d.connection, d.verdict, d.decided_by, d.via, d.reason, d.outcome)
    if decisions:
        _, starter = who_may_approve()
        create_table_artifact(
            key="private-endpoint-decisions",
            table=[{**d.model_dump(), "started_by": starter or "unknown"} for d in decisions],
            description=f"Private endpoint decisions on {workspace.name}",
        )
    else:
        create_markdown_artifact(key="private-endpoint-decisions", markdown=f"No pending private endpoint connections on `{workspace.name}`.")
