"""start-computes and stop-computes: one policy across every workspace.

Idempotent (already there is success), never stops a busy instance (running job, keep-alive tag,
exclusion), paced under ARM's write budget, one Prefect task per subscription rather than per workspace or instance.
Scheduled runs skip holidays, and a run that fires after a newer run of its schedule group does
nothing: a stale backlog never replays out of order.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact, create_progress_artifact, create_table_artifact
from prefect.context import FlowRunContext
from prefect.server.schemas.schedules import CronSchedule
from prefect.task_runners import ThreadPoolTaskRunner
from prefect.utilities.asyncutils import run_coro_as_sync
from pydantic import BaseModel, Field

from amlops import calendars
from amlops.azure.clients import POOL_SIZE
from amlops.errors import InvalidInput
from amlops.fleet import Action, IdlePolicy, Outcome, Selector, count_results, plan_run
from amlops.models import ResourceId
from tasks import compute_power as t
from tasks.common import sync_result

FLEET_FAILURES_EVENT = "amlops.fleet.failures"  # a run finished with failed instances: on-call's automation listens


class CronRule(BaseModel):
    """A schedule of the same group (the morning start and the evening stop of one selector)."""

    action: str
    cron: str
    timezone: str = "UTC"

    def fires(self, start: datetime, end: datetime | None = None, n: int | None = None) -> list[datetime]:
        """When Prefect's scheduler fires this rule from ``start`` on (its own code, so DST is handled alike)."""
        return run_coro_as_sync(self.schedule().get_dates(n=n, start=start, end=end)) or []

    def schedule(self) -> CronSchedule:
        try:
            return CronSchedule(cron=self.cron, timezone=self.timezone)
        except ValueError as err:
            raise InvalidInput(f"Schedule {self.action} '{self.cron}' in {self.timezone!r} is invalid: {err}") from err


class FleetReport(BaseModel):
    action: str
    counts: dict[str, int] = Field(default_factory=dict)
    outcomes: list[Outcome] = Field(default_factory=list)
    idle_violations: list[dict[str, str]] = Field(default_factory=list)
    skipped_run: str = ""


def overtaken_by(scheduled_at: datetime, now: datetime, group: list[CronRule]) -> CronRule | None:
    """The schedule of the group that fired after this run was due and before now, if any: this run is stale."""
    for rule in group:
        if rule.fires(scheduled_at.replace(microsecond=0) + timedelta(seconds=1), end=now, n=1):
            return rule
    return None


def _scheduled_at() -> datetime:
    context = FlowRunContext.get()
    run = context.flow_run if context else None
    when = run.expected_start_time if run and run.expected_start_time else datetime.now(UTC)
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _skip_reason(holidays: list[calendars.Entry], timezone: str, group: list[CronRule], now: datetime) -> str:
    """Why this run should do nothing at all: a holiday, or a newer run of its group has fired."""
    from zoneinfo import ZoneInfo

    due = _scheduled_at()
    try:
        local = due.astimezone(ZoneInfo(timezone))
    except (KeyError, ValueError) as err:
        raise InvalidInput(f"Unknown time zone {timezone!r}; use an IANA name such as Europe/Berlin.") from err
    holiday = calendars.holiday_on(local.date(), holidays)
    if holiday:
        return f"a holiday in the calendar: {holiday}"
    newer = overtaken_by(due, now, group)
    if newer is not None:
        return f"stale: this run was due at {due.isoformat()}, and the {newer.action} schedule '{newer.cron}' ({newer.timezone}) has fired since"
    return ""


def run_fleet(
    action: Action,
    selector: Selector,
    dry_run: bool,
    idle_policy: IdlePolicy | None,
    holidays: list[calendars.Entry],
    timezone: str,
    schedule_group: list[CronRule],
    wait_seconds: float,
    capacity_retries: int,
    capacity_retry_delay: float,
    subscriptions_variable: str | None = None,
) -> FleetReport:
    logger = get_run_logger()
    if subscriptions_variable and not selector.subscriptions and not selector.workspaces:
        selector = selector.model_copy(update={"subscriptions": _subscriptions_from(subscriptions_variable)})
        if not selector.subscriptions:
            skip = f"no subscriptions selected: the Prefect variable {subscriptions_variable} is unset or empty (set it: prefect variable set {subscriptions_variable} '[\"<subscription id>\"]' --overwrite)"
            logger.warning("Doing nothing: %s", skip)
            create_markdown_artifact(key=f"{action}-computes-summary", markdown=f"**{action}-computes did nothing**: {skip}")
            return FleetReport(action=action, skipped_run=skip)
    selector = selector.validated()
    holidays = calendars.validated(holidays)
    policy = idle_policy.validated() if idle_policy else None
    for rule in schedule_group:
        rule.schedule()
    skip = _skip_reason(holidays, timezone, schedule_group, datetime.now(UTC))
    if skip:
        logger.warning("Doing nothing: %s", skip)
        create_markdown_artifact(key=f"{action}-computes-summary", markdown=f"**{action}-computes did nothing**: {skip}")
        return FleetReport(action=action, skipped_run=skip)

    by_subscription: dict[str, list[ResourceId]] = {}
    for selected in t.selected_workspaces(selector):
        by_subscription.setdefault(selected.subscription.lower(), []).append(selected)
    if not dry_run:
        return _report(action, *_survey_and_act(action, selector, policy, by_subscription, wait_seconds, capacity_retries, capacity_retry_delay))
    surveys = [s for f in t.survey_subscription.map(list(by_subscription.values())) for s in f.result()]
    plan = plan_run(action, selector, policy, surveys, datetime.now(UTC), dry_run)
    return _report(action, plan.outcomes, plan.idle_violations)


def _survey_and_act(
    action: Action, selector: Selector, policy: IdlePolicy | None, by_subscription: dict[str, list[ResourceId]], wait_seconds: float, capacity_retries: int, capacity_retry_delay: float
) -> tuple[list[Outcome], list[dict[str, str]]]:
    """Each subscription's workspaces surveyed and acted on in one task (its instances as soon as its survey is
    in); then the idle-shutdown settings outside the policy set, if asked."""
    workspaces = sum(len(w) for w in by_subscription.values())
    progress_id = sync_result(create_progress_artifact(progress=0.0, key=f"{action}-computes-progress", description=f"{action} the selected instances of {workspaces} workspaces")) if workspaces else None
    batches = [t.survey_and_power_subscription.submit(group, action, selector, policy, wait_seconds, capacity_retries, capacity_retry_delay, progress_id, workspaces) for group in by_subscription.values()]
    outcomes: list[Outcome] = []
    violations: list[dict[str, str]] = []
    for batch in batches:
        done = batch.result()
        outcomes += done.outcomes
        violations += done.idle_violations
    if policy and policy.set_to:
        idle_sets = [t.set_idle_shutdown.submit(ResourceId.parse(v["workspace"]), v["compute"], policy.set_to) for v in violations]
        for future, violation in zip(idle_sets, violations, strict=True):
            violation["action"] = f"set to {future.result()}"
    return outcomes, violations


def _subscriptions_from(variable: str) -> list[str]:
    """The fleet's subscriptions from a Prefect variable (a JSON list, or one comma-separated string), read when the run starts."""
    from prefect.variables import Variable

    value: Any = Variable.get(variable, default=[])
    if isinstance(value, str):
        value = value.split(",")
    if not isinstance(value, list):
        raise InvalidInput(f"The Prefect variable {variable} must be a list of subscription ids, not {type(value).__name__}.")
    return [str(v).strip() for v in value if str(v).strip()]


def _report(action: str, outcomes: list[Outcome], violations: list[dict[str, str]]) -> FleetReport:
    counts = count_results(outcomes)
    report = FleetReport(action=action, counts=counts, outcomes=sorted(outcomes, key=lambda o: (o.result, o.workspace, o.compute)), idle_violations=violations)
    create_table_artifact(key=f"{action}-computes-summary", table=[{**o.model_dump(), "workspace": o.workspace.rsplit("/", 1)[-1]} for o in report.outcomes], description=f"{action}-computes: {counts}")
    if violations:
        create_table_artifact(key=f"{action}-computes-idle-policy", table=violations, description="Instances outside the idle-shutdown policy")
    get_run_logger().info("%s-computes: %s", action, ", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "nothing selected")
    failed = [o for o in report.outcomes if o.result == "failed"]
    for o in failed:
        get_run_logger().error("%s %s: %s", o.compute, o.result, o.reason)
    if failed:
        _announce_failures(action, failed)
    return report


def _announce_failures(action: str, failed: list[Outcome]) -> None:
    """An event naming the failed instances, about this flow run (on-call's automation turns it into a message)."""
    from prefect.events import emit_event

    context = FlowRunContext.get()
    if not (context and context.flow_run):
        return
    emit_event(
        event=FLEET_FAILURES_EVENT,
        resource={"prefect.resource.id": f"prefect.flow-run.{context.flow_run.id}", "prefect.resource.name": context.flow_run.name},
        payload={"action": action, "failed": [{"workspace": o.workspace.rsplit("/", 1)[-1], "compute": o.compute, "reason": o.reason} for o in failed]},
    )


def _fleet_flow(action: Action) -> Any:
    @flow(name=f"{action}-computes", task_runner=ThreadPoolTaskRunner(max_workers=POOL_SIZE))  # type: ignore[arg-type]  # Prefect types flow(task_runner=) as TaskRunner[PrefectFuture], invariant: its own ThreadPoolTaskRunner does not fit
    def fleet(
        selector: Selector,
        dry_run: bool = False,
        idle_policy: IdlePolicy | None = None,
        holidays: list[date | str] | None = None,
        timezone: str = "UTC",
        schedule_group: list[CronRule] | None = None,
        wait_seconds: float = 900,
        capacity_retries: int = 2,
        capacity_retry_delay: float = 60,
        subscriptions_variable: str | None = None,
    ) -> FleetReport:
        return run_fleet(action, selector, dry_run, idle_policy, holidays or [], timezone, schedule_group or [], wait_seconds, capacity_retries, capacity_retry_delay, subscriptions_variable)

    fleet.__doc__ = (
        f"{action.capitalize()} the compute instances the selector names, across every workspace it covers.\n\n"
        "holidays: dates and named calendars (DE-BY, US, GB-SCT) on which a run does nothing. "
        "subscriptions_variable: a Prefect variable (a JSON list) read when the run starts, for a selector that names nothing."
    )
    return fleet


start_computes = _fleet_flow("start")
stop_computes = _fleet_flow("stop")
