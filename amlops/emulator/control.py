"""The control API under /_emulator: reset, scenarios, faults, settings, clock, jobs, traffic, the request log."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from amlops.emulator import scenario
from amlops.emulator.errors import ArmError, bad_request
from amlops.emulator.faults import FaultInjector
from amlops.emulator.http import Request, Response, ok
from amlops.emulator.models import authz, jobs, metrics, policy
from amlops.emulator.state import State
from amlops.emulator.throttle import Throttler


@dataclass
class RequestLog:
    entries: list[dict[str, Any]] = field(default_factory=list)

    def add(self, entry: dict[str, Any]) -> None:
        entry["seq"] = len(self.entries)
        self.entries.append(entry)

    def since(self, seq: int) -> list[dict[str, Any]]:
        return self.entries[seq:]

    def counters(self) -> dict[str, Any]:
        by_kind: dict[str, int] = {}
        by_status: dict[str, int] = {}
        for e in self.entries:
            by_kind[e["kind"]] = by_kind.get(e["kind"], 0) + 1
            by_status[str(e["status"])] = by_status.get(str(e["status"]), 0) + 1
        return {"total": len(self.entries), "by_kind": by_kind, "by_status": by_status}


@dataclass
class Controls:
    state: State
    throttler: Throttler
    faults: FaultInjector
    log: RequestLog

    def handle(self, req: Request) -> Response:
        action = req.path[len("/_emulator"):].strip("/")
        handler: Callable[[Request], Response] | None = getattr(self, f"{req.method.lower()}_{action.replace('/', '_')}", None)
        if handler is None:
            raise ArmError(404, "UnknownControl", f"No control {req.method} /_emulator/{action}.")
        return handler(req)

    def post_reset(self, req: Request) -> Response:
        self.state.reset()
        self.throttler.configure()
        self.throttler.enabled = True
        self.faults.clear()
        self.log.entries.clear()
        return ok({"reset": True})

    def post_scenario(self, req: Request) -> Response:
        spec = req.body or {}
        scenario.load(self.state, spec)
        return ok({"subscriptions": len(self.state.subscriptions), "resources": sum(1 for _ in self.state.store)})

    def post_rules(self, req: Request) -> Response:
        """Add ARM rules to the loaded scenario: denied_actions, policies, role_definitions, deleted_principals."""
        body = req.body or {}
        unknown = set(body) - {"denied_actions", "policies", "role_definitions", "deleted_principals", "directory_read_denied"}
        if unknown:
            raise bad_request(f"Unknown rule kinds {sorted(unknown)}.")
        before = (self.state.denied_actions, self.state.policies, self.state.role_definitions, self.state.deleted_principals)
        denied_directory = body.get("directory_read_denied", self.state.directory_read_denied)
        authz.load(self.state, body)
        self.state.directory_read_denied = bool(denied_directory)
        policy.load(self.state, body)
        self.state.denied_actions = before[0] + self.state.denied_actions
        self.state.policies = before[1] + self.state.policies
        self.state.role_definitions = {**before[2], **self.state.role_definitions}
        self.state.deleted_principals = before[3] | self.state.deleted_principals
        return ok({"denied_actions": self.state.denied_actions, "policies": self.state.policies, "role_definitions": sorted(self.state.role_definitions), "deleted_principals": sorted(self.state.deleted_principals)})

    def get_faults(self, req: Request) -> Response:
        return ok({"value": [r.describe() for r in self.faults.rules]})

    def post_faults(self, req: Request) -> Response:
        try:
            rule = self.faults.add(**(req.body or {}))
        except (TypeError, ValueError) as err:
            raise bad_request(f"Bad fault rule: {err}") from err
        return ok(rule.describe())

    def delete_faults(self, req: Request) -> Response:
        self.faults.clear()
        return ok({"value": []})

    def get_requests(self, req: Request) -> Response:
        return ok({"value": self.log.since(int(req.query.get("since", "0")))})

    def delete_requests(self, req: Request) -> Response:
        self.log.entries.clear()
        return ok({"value": []})

    def get_counters(self, req: Request) -> Response:
        return ok(self.log.counters())

    def post_settings(self, req: Request) -> Response:
        body = dict(req.body or {})
        throttle = body.pop("throttle", None)
        if throttle is not None:
            self.throttler.enabled = throttle.get("enabled", True)
            limits = {k: tuple(v) for k, v in throttle.items() if k in ("reads", "writes", "deletes")}
            self.throttler.configure(float(throttle.get("scale", 1.0)), **limits)
        for key, value in body.items():
            if not hasattr(self.state.settings, key):
                raise bad_request(f"Unknown setting '{key}'.")
            setattr(self.state.settings, key, value)
        return ok(vars(self.state.settings))

    def post_clock(self, req: Request) -> Response:
        """{"frozen": true} stops the clock (only advance moves it), false lets it follow real time again;
        {"speed": N} runs it N emulated seconds per real second (a benchmark's Azure minutes in seconds)."""
        body = req.body or {}
        frozen, speed = body.get("frozen"), body.get("speed")
        if (frozen is not None and not isinstance(frozen, bool)) or (speed is not None and not (isinstance(speed, int | float) and speed > 0)) or frozen is speed is None:
            raise bad_request("POST /_emulator/clock needs {\"frozen\": true|false} or {\"speed\": N > 0}.")
        if isinstance(frozen, bool):
            (self.state.clock.freeze if frozen else self.state.clock.thaw)()
        if speed is not None:
            self.state.clock.set_speed(float(speed))
        return ok({"now": self.state.clock.iso(), "frozen": self.state.clock.frozen, "speed": self.state.clock.speed})

    def post_clock_advance(self, req: Request) -> Response:
        self.state.clock.advance(float((req.body or {}).get("seconds", 0)))
        return ok({"now": self.state.clock.iso()})

    def post_jobs_action(self, req: Request) -> Response:
        body = req.body or {}
        return ok(jobs.force_end(self.state, body.get("id", ""), body.get("action", "")))

    def post_jobs_schedule(self, req: Request) -> Response:
        """Schedule an end for the next jobs whose name matches: preempt, node_failure, infrastructure or fail."""
        body = dict(req.body or {})
        if body.get("end") not in jobs.ENDS or not body.get("match"):
            raise bad_request(f"A job schedule needs 'match' (a name glob) and 'end' (one of {sorted(jobs.ENDS)}).")
        body.setdefault("after", 0.0)
        body.setdefault("times", 1)
        self.state.job_schedules.append(body)
        return ok(body)

    def post_traffic(self, req: Request) -> Response:
        body = req.body or {}
        metrics.record_traffic(self.state, body["endpoint"], int(body.get("requests", 1)), float(body.get("seconds_ago", 0)))
        return ok({"recorded": True})

    def get_resources(self, req: Request) -> Response:
        return ok({"value": list(self.state.store)})
