"""Fleet-wide start and stop of compute: which instances, and what to do with each. Pure decisions."""

from __future__ import annotations

import fnmatch
from datetime import UTC, datetime
from typing import Any, Literal

import isodate
from pydantic import Field

from amlops.errors import InvalidInput
from amlops.models import ComputeSpec, Model, ResourceId, check_subscription

KEEP_ALIVE_TAG = "amlops-keep-alive"  # value: an ISO 8601 time until which the instance must not be stopped
Action = Literal["start", "stop"]
Result = Literal["started", "stopped", "already", "skipped", "failed", "would start", "would stop"]

# Azure's reasons a start cannot get a VM: stopping an instance does not release its quota.
CAPACITY_CODES = frozenset({"QuotaExceeded", "AllocationFailed", "ZonalAllocationFailed", "OverconstrainedAllocationRequest", "SkuNotAvailable"})
TARGET_STATES = {"start": {"Running", "Starting", "Restarting"}, "stop": {"Stopped", "Stopping"}}
# Where an instance is once the action has ended (a started instance may already run a job).
FINAL_STATES = {"start": {"Running", "JobRunning"}, "stop": {"Stopped"}}


def power_action_failed(last_operation: dict[str, Any] | None, action: str) -> bool:
    """Does an instance's lastOperation say this action failed? (ComputeInstanceLastOperation: operationStatus
    StartFailed, StopFailed, ... or Failed.)"""
    if not last_operation or str(last_operation.get("operationName", "")).lower() != action:
        return False
    return str(last_operation.get("operationStatus", "")).lower().endswith("failed")
# Azure's own signal that an instance is in use (ComputeInstanceState in the machinelearningservices REST
# specification): running a job, or running its setup scripts. Busy whatever the job list says.
BUSY_STATES = {"JobRunning", "SettingUp", "UserSettingUp"}
ACTIONABLE_STATES = {"start": {"Stopped"}, "stop": {"Running", "Unknown"}}


class Selector(Model):
    """Which computes: by subscription and/or workspace, then name globs, tags and types."""

    subscriptions: list[str] = Field(default_factory=list)
    workspaces: list[str] = Field(default_factory=list, description="workspace resource ids")
    names: list[str] = Field(default_factory=lambda: ["*"], description="fnmatch globs over compute names")
    exclude: list[str] = Field(default_factory=list, description="fnmatch globs of compute names never touched")
    tags: dict[str, str] = Field(default_factory=dict, description="tag values that must match ('*' for any value)")
    compute_types: list[str] = Field(default_factory=lambda: ["ComputeInstance"])

    def validated(self) -> Selector:
        if not self.subscriptions and not self.workspaces:
            raise InvalidInput("The selector names no subscription and no workspace: it would match nothing. Name at least one.")
        if not self.names or not self.compute_types:
            raise InvalidInput("The selector's names and compute_types cannot be empty: they would match nothing.")
        unknown = sorted(set(self.compute_types) - {"ComputeInstance"})
        if unknown:
            raise InvalidInput(f"Only compute instances can be started and stopped, not {unknown}.")
        return self.model_copy(
            update={
                "subscriptions": [check_subscription(s) for s in self.subscriptions],
                "workspaces": [str(ResourceId.parse(w).require_workspace()) for w in self.workspaces],
            }
        )

    def matches(self, compute: ComputeSpec) -> bool:
        if compute.compute_type not in self.compute_types:
            return False
        if not any(fnmatch.fnmatchcase(compute.name, glob) for glob in self.names) or self.excluded(compute):
            return False
        return all(key in compute.tags and (want == "*" or compute.tags[key] == want) for key, want in self.tags.items())

    def excluded(self, compute: ComputeSpec) -> bool:
        return any(fnmatch.fnmatchcase(compute.name, glob) for glob in self.exclude)


class Outcome(Model):
    workspace: str
    compute: str
    action: Action
    result: Result
    reason: str = ""


def keep_alive_until(compute: ComputeSpec) -> datetime | None:
    """The snooze a person set on the instance; a tag that cannot be read counts as 'keep it alive'."""
    value = compute.tags.get(KEEP_ALIVE_TAG)
    if value is None:
        return None
    try:
        until = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return datetime.max.replace(tzinfo=UTC)
    return until if until.tzinfo else until.replace(tzinfo=UTC)


def decide(compute: ComputeSpec, action: Action, running_jobs: list[str], now: datetime) -> tuple[Result, str] | None:
    """What to report without acting (already there, or skipped and why), or None: go ahead."""
    state = compute.state or "Unknown"
    if state in TARGET_STATES[action]:
        return "already", f"already {state}"
    if action == "stop":
        if running_jobs:  # the names say the most
            return "skipped", f"busy: running job(s) {', '.join(sorted(running_jobs))}"
        if state in BUSY_STATES:
            return "skipped", f"busy: the instance is {state}"
        until = keep_alive_until(compute)
        if until is not None and until > now:
            shown = "indefinitely (unreadable tag value)" if until.year == 9999 else f"until {until.isoformat()}"
            return "skipped", f"kept alive {shown} by tag {KEEP_ALIVE_TAG}"
    if state not in ACTIONABLE_STATES[action]:
        return "skipped", f"cannot {action} while {state}"
    return None


class IdlePolicy(Model):
    """The fleet's idle-shutdown rule, as an Azure Policy default would set it (Azure allows 15 minutes to 3 days)."""

    minimum: str = "PT15M"
    maximum: str = "PT4H"
    set_to: str | None = Field(default=None, description="if given, instances outside the range are set to this")

    @staticmethod
    def minutes(duration: str) -> float:
        try:
            return isodate.parse_duration(duration).total_seconds() / 60
        except (isodate.ISO8601Error, ValueError) as err:
            raise InvalidInput(f"'{duration}' is not an ISO 8601 duration such as PT30M or PT4H.") from err

    def validated(self) -> IdlePolicy:
        low, high = self.minutes(self.minimum), self.minutes(self.maximum)
        if not 15 <= low <= high <= 3 * 24 * 60:
            raise InvalidInput(f"Idle shutdown range {self.minimum}..{self.maximum} must lie within PT15M..P3D, minimum first.")
        if self.set_to is not None and not low <= self.minutes(self.set_to) <= high:
            raise InvalidInput(f"set_to {self.set_to} must lie within {self.minimum}..{self.maximum}.")
        return self

    def violation(self, compute: ComputeSpec) -> str | None:
        setting = compute.idle_time_before_shutdown
        if not setting:
            return "no idle shutdown"
        if self.minutes(setting) < self.minutes(self.minimum):
            return f"{setting} is below {self.minimum}"
        if self.minutes(setting) > self.minutes(self.maximum):
            return f"{setting} is above {self.maximum}"
        return None


# -- one run over the fleet


class Survey(Model):
    """What a run found in one workspace: its computes and which of them run jobs (the facts the tasks gather)."""

    workspace: str
    computes: list[ComputeSpec]
    busy: dict[str, list[str]] = Field(default_factory=dict)  # compute name -> its running jobs


class FleetPlan(Model):
    """What a run does: the outcomes known without acting, the instances to act on per workspace, and the
    instances outside the idle-shutdown policy."""

    outcomes: list[Outcome] = Field(default_factory=list)
    to_act: dict[str, list[str]] = Field(default_factory=dict)  # workspace id -> compute names
    idle_violations: list[dict[str, str]] = Field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(len(names) for names in self.to_act.values())


def plan_run(action: Action, selector: Selector, policy: IdlePolicy | None, surveys: list[Survey], now: datetime, dry_run: bool) -> FleetPlan:
    """Each surveyed compute: not selected (an explicit exclusion is reported), outside the idle policy
    (noted, whatever else happens), then ``decide``'s verdict; what is left is acted on, or only named in a dry run."""
    plan = FleetPlan()
    for survey in surveys:
        for compute in survey.computes:
            if not selector.matches(compute):
                if selector.excluded(compute) and compute.compute_type in selector.compute_types:
                    plan.outcomes.append(Outcome(workspace=survey.workspace, compute=compute.name, action=action, result="skipped", reason="excluded by the selector"))
                continue
            if policy and (why := policy.violation(compute)):
                plan.idle_violations.append({"workspace": survey.workspace, "compute": compute.name, "idle shutdown": compute.idle_time_before_shutdown or "-", "problem": why})
            verdict = decide(compute, action, survey.busy.get(compute.name, []), now)
            if verdict is not None:
                plan.outcomes.append(Outcome(workspace=survey.workspace, compute=compute.name, action=action, result=verdict[0], reason=verdict[1]))
            elif dry_run:
                plan.outcomes.append(Outcome(workspace=survey.workspace, compute=compute.name, action=action, result="would start" if action == "start" else "would stop", reason=f"is {compute.state}"))
            else:
                plan.to_act.setdefault(survey.workspace, []).append(compute.name)
    return plan


def count_results(outcomes: list[Outcome]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for o in outcomes:
        counts[o.result] = counts.get(o.result, 0) + 1
    return counts
