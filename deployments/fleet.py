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

from amlops.fleet import Selector
from flows.approve_private_endpoints import approve_private_endpoints
from flows.compute_power import CronRule, start_computes, stop_computes
from flows.move_workspace import move_workspace
from flows.train_with_retries import train_with_retries

CHECKOUT = Path(__file__).parents[1]
WORK_POOL = "amlops-pool"
# The fleet's subscriptions as a Prefect variable (a JSON list): prefect.yaml reads it, `amlops deploy` sets it.
SUBSCRIPTIONS_VARIABLE = "amlops_fleet_subscriptions"


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


def all_deployments(with_flows: bool = False) -> list[Any]:
    """Every deployment amlops registers (prefect.yaml is generated from this list); with_flows pairs each with its flow."""
    starting, stopping = fleet_deployments("weekdays-berlin", default_selector())
    pairs = [
        (starting, start_computes),
        (stopping, stop_computes),
        (move_workspace.to_deployment(name="on-demand", tags=["move"]), move_workspace),
        (approve_private_endpoints.to_deployment(name="on-demand", tags=["approvals"]), approve_private_endpoints),
        (train_with_retries.to_deployment(name="on-demand", tags=["training"]), train_with_retries),
    ]
    return pairs if with_flows else [deployment for deployment, _ in pairs]


def deploy(work_pool: str, checkout: str) -> list[str]:
    """Register every deployment on a work pool (a process worker runs them from ``checkout``).

    What `prefect deploy --all` does with the generated prefect.yaml; it also stores the fleet's
    subscriptions in the Prefect variable that prefect.yaml reads, so the two register the same, and,
    when AMLOPS_ON_CALL_WEBHOOK is set, the automation that tells on-call a run waits for a person.
    """
    from prefect.variables import Variable

    Variable.set(SUBSCRIPTIONS_VARIABLE, default_selector().subscriptions, overwrite=True)
    ids = []
    for deployment, flow in all_deployments(with_flows=True):
        deployment.entrypoint = entrypoint_of(flow)  # a flow a factory made is named by its module attribute
        deployment.job_variables = {**(deployment.job_variables or {}), "working_dir": checkout}
        ids.append(str(deployment.apply(work_pool_name=work_pool)))
    webhook = os.environ.get("AMLOPS_ON_CALL_WEBHOOK", "").strip()
    if webhook:
        from deployments.on_call import ensure_on_call_automation

        ensure_on_call_automation(webhook)
    return ids


def serve() -> None:
    """Serve every deployment with its schedules until interrupted. Schedules stay on when it stops."""
    from prefect import serve as prefect_serve

    prefect_serve(*all_deployments(), pause_on_shutdown=False)
