"""The deployments amlops serves: scheduled start/stop pairs per fleet, and the on-demand flows.

A fleet's start and stop share a schedule group, so a run that fires late, after the other has
already fired (a stop after the next morning's start), knows it is stale and does nothing.
"""

from __future__ import annotations

import inspect
import os
from datetime import date
from pathlib import Path
from typing import Any

from prefect.schedules import Cron

from amlops import calendars
from amlops.fleet import Selector
from flows.approve_private_endpoints import approve_private_endpoints
from flows.compute_power import CronRule, start_computes, stop_computes
from flows.move_workspace import move_workspace
from flows.train_with_retries import train_with_retries

CHECKOUT = Path(__file__).parents[1]
WORK_POOL = "amlops-pool"
# The fleet's subscriptions as a Prefect variable (a JSON list), read by the default fleet's runs when they
# start: `amlops deploy` sets it from AMLOPS_FLEET_SUBSCRIPTIONS; unset, those runs do nothing and say so.
SUBSCRIPTIONS_VARIABLE = "amlops_fleet_subscriptions"
# The default fleet's days off: Berlin's public holidays (the `holidays` package computes each year's).
DEFAULT_HOLIDAYS: list[date | str] = ["DE-BE"]


def entrypoint_of(flow: Any) -> str:
    """``path/to/module.py:name`` relative to the checkout: the module attribute the flow object is bound to.

    Prefect derives it from the function, which for flows a factory made (start/stop-computes) is
    ``_fleet_flow.<locals>.fleet``: a worker cannot load that."""
    module = inspect.getmodule(flow.fn)
    assert module is not None and module.__file__
    name = next(n for n, value in vars(module).items() if value is flow)
    return f"{Path(module.__file__).resolve().relative_to(CHECKOUT).as_posix()}:{name}"


def fleet_deployments(
    name: str,
    selector: Selector,
    timezone: str = "Europe/Berlin",
    start_cron: str = "0 8 * * 1-5",
    stop_cron: str = "0 19 * * 1-5",
    holidays: list[date | str] | None = None,
    subscriptions_variable: str | None = None,
) -> list[Any]:
    """A start and a stop deployment for one selector, on cron schedules in an IANA time zone.

    ``holidays``: dates and named calendars ("DE-BY", "US", "GB-SCT") on which the runs do nothing.
    ``subscriptions_variable``: a Prefect variable the runs read when the selector names nothing.
    """
    group = [CronRule(action="start", cron=start_cron, timezone=timezone), CronRule(action="stop", cron=stop_cron, timezone=timezone)]
    for rule in group:
        rule.schedule()  # a malformed cron or unknown zone fails here, before anything is deployed
    parameters: dict[str, Any] = {
        "selector": selector.model_dump(),
        "timezone": timezone,
        "holidays": [e.isoformat() if isinstance(e, date) else e for e in calendars.validated(holidays or [])],
        "schedule_group": [r.model_dump() for r in group],
    }
    if subscriptions_variable:
        parameters["subscriptions_variable"] = subscriptions_variable
    return [
        start_computes.to_deployment(name=f"{name}-start", schedules=[Cron(start_cron, timezone=timezone)], parameters=parameters, tags=["fleet", name]),
        stop_computes.to_deployment(name=f"{name}-stop", schedules=[Cron(stop_cron, timezone=timezone)], parameters=parameters, tags=["fleet", name]),
    ]


def fleet_subscriptions_from_env() -> list[str]:
    """AMLOPS_FLEET_SUBSCRIPTIONS, comma-separated: what `amlops deploy` and `amlops serve` store in the variable."""
    return [s.strip() for s in os.environ.get("AMLOPS_FLEET_SUBSCRIPTIONS", "").split(",") if s.strip()]


def set_fleet_subscriptions() -> None:
    """Store AMLOPS_FLEET_SUBSCRIPTIONS in the variable the default fleet reads; unset, leave the variable as it is."""
    from prefect.variables import Variable

    subscriptions = fleet_subscriptions_from_env()
    if subscriptions:
        Variable.set(SUBSCRIPTIONS_VARIABLE, subscriptions, overwrite=True)


def all_deployments(with_flows: bool = False) -> list[Any]:
    """Every deployment amlops registers (prefect.yaml is generated from this list); with_flows pairs each with its flow.

    The default fleet names no subscription: its runs read the variable when they start, so a fresh server
    without it registers every deployment, and a change of the variable needs no redeploy."""
    starting, stopping = fleet_deployments("weekdays-berlin", Selector(), holidays=DEFAULT_HOLIDAYS, subscriptions_variable=SUBSCRIPTIONS_VARIABLE)
    pairs = [
        (starting, start_computes),
        (stopping, stop_computes),
        (move_workspace.to_deployment(name="on-demand", tags=["move"]), move_workspace),
        (approve_private_endpoints.to_deployment(name="on-demand", tags=["approvals"]), approve_private_endpoints),
        (train_with_retries.to_deployment(name="on-demand", tags=["training"]), train_with_retries),
    ]
    return pairs if with_flows else [deployment for deployment, _ in pairs]


def deploy(work_pool: str, checkout: str | None = None, repository: str | None = None, revision: str | None = None, token: str | None = None, notify: list[str] | None = None) -> list[str]:
    """Register every deployment on a work pool: what `prefect deploy --all` does with the generated prefect.yaml.

    Workers clone the code (deployments.source): ``repository`` (and ``revision``, by default this checkout's
    commit) are stored in the variables the pull step reads; given a ``checkout`` instead, workers run the
    code from that directory. It also stores the fleet's subscriptions (AMLOPS_FLEET_SUBSCRIPTIONS) in the
    variable the default fleet reads, and with ``notify`` (or AMLOPS_ON_CALL_WEBHOOK) the on-call automations.
    Everything is checked before anything is registered.
    """
    from prefect.variables import Variable

    from amlops.errors import InvalidInput
    from deployments import on_call, source

    channels = on_call.channels(notify or [])  # an unknown block is refused before anything is registered
    if checkout:
        steps, job_variables = source.checkout_pull_steps(checkout), {"working_dir": checkout}
    else:
        if repository:
            source.set_source(repository, revision if revision is not None else source.head_commit(CHECKOUT), token)
        elif not Variable.get(source.REPOSITORY_VARIABLE, default=""):
            raise InvalidInput(
                f"Workers clone the code from the Prefect variable {source.REPOSITORY_VARIABLE}, which is unset: "
                "pass --git-repository URL (or --checkout DIR for workers that share this disk)."
            )
        steps, job_variables = source.git_pull_steps(), {}
    set_fleet_subscriptions()
    ids = []
    for deployment, flow in all_deployments(with_flows=True):
        deployment.entrypoint = entrypoint_of(flow)  # a flow a factory made is named by its module attribute
        deployment.storage = source.PullSteps(steps)
        deployment.job_variables = {**(deployment.job_variables or {}), **job_variables}
        ids.append(str(deployment.apply(work_pool_name=work_pool)))
    on_call.ensure_on_call(channels)
    return ids


def serve() -> None:
    """Serve every deployment with its schedules until interrupted. Schedules stay on when it stops."""
    from prefect import serve as prefect_serve

    from deployments.stack import WORKER_PREFETCH_SECONDS

    set_fleet_subscriptions()
    prefect_serve(*all_deployments(), pause_on_shutdown=False, prefetch_seconds=WORKER_PREFETCH_SECONDS)  # a run due at 19:00 starts at 19:00
