"""The deployments amlops serves: scheduled start/stop pairs per fleet, and the on-demand flows.

A fleet's start and stop share a schedule group, so a run that fires late, after the other has
already fired (a stop after the next morning's start), knows it is stale and does nothing.
"""

from __future__ import annotations

import os
from datetime import date
from typing import Any

from prefect.schedules import Cron

from amlops.fleet import Selector
from flows.approve_private_endpoints import approve_private_endpoints
from flows.compute_power import CronRule, start_computes, stop_computes
from flows.move_workspace import move_workspace


def fleet_deployments(
    name: str,
    selector: Selector,
    timezone: str = "Europe/Berlin",
    start_cron: str = "0 8 * * 1-5",
    stop_cron: str = "0 19 * * 1-5",
    holidays: list[date] | None = None,
) -> list[Any]:
    """A start and a stop deployment for one selector, on cron schedules in an IANA time zone."""
    group = [CronRule(action="start", cron=start_cron, timezone=timezone), CronRule(action="stop", cron=stop_cron, timezone=timezone)]
    for rule in group:
        rule.schedule()  # a malformed cron or unknown zone fails here, before anything is deployed
    parameters = {
        "selector": selector.model_dump(),
        "timezone": timezone,
        "holidays": [d.isoformat() for d in holidays or []],
        "schedule_group": [r.model_dump() for r in group],
    }
    return [
        start_computes.to_deployment(name=f"{name}-start", schedules=[Cron(start_cron, timezone=timezone)], parameters=parameters, tags=["fleet", name]),
        stop_computes.to_deployment(name=f"{name}-stop", schedules=[Cron(stop_cron, timezone=timezone)], parameters=parameters, tags=["fleet", name]),
    ]


def default_selector() -> Selector:
    """The fleet the default schedules cover: AMLOPS_FLEET_SUBSCRIPTIONS, comma-separated (edit per run in the UI)."""
    subscriptions = [s.strip() for s in os.environ.get("AMLOPS_FLEET_SUBSCRIPTIONS", "").split(",") if s.strip()]
    return Selector(subscriptions=subscriptions)


def all_deployments() -> list[Any]:
    return [
        *fleet_deployments("weekdays-berlin", default_selector()),
        move_workspace.to_deployment(name="on-demand", tags=["move"]),
        approve_private_endpoints.to_deployment(name="on-demand", tags=["approvals"]),
    ]


def deploy(work_pool: str, checkout: str) -> list[str]:
    """Register every deployment on a work pool (a process worker runs them from ``checkout``).

    The Python twin of `prefect deploy --all` with prefect.yaml.
    """
    ids = []
    for deployment in all_deployments():
        deployment.job_variables = {**(deployment.job_variables or {}), "working_dir": checkout}
        ids.append(str(deployment.apply(work_pool_name=work_pool)))
    return ids


def serve() -> None:
    """Serve every deployment with its schedules until interrupted. Schedules stay on when it stops."""
    from prefect import serve as prefect_serve

    prefect_serve(*all_deployments(), pause_on_shutdown=False)
