"""A client for the emulator's control API, over HTTPS like everything else (stdlib only)."""

from __future__ import annotations

import json
import ssl
import urllib.request
from typing import Any

from amlops.emulator.throttle import kind_of


class EmulatorControl:
    def __init__(self, base_url: str, ca_file: str) -> None:
        self.base_url = base_url.rstrip("/")
        self._context = ssl.create_default_context(cafile=ca_file)

    def call(self, method: str, action: str, body: Any = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(f"{self.base_url}/_emulator/{action}", data=data, method=method, headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, context=self._context, timeout=30) as response:
            raw = response.read()
        return json.loads(raw) if raw else None

    def reset(self) -> None:
        self.call("POST", "reset")

    def load(self, scenario: dict[str, Any]) -> dict[str, Any]:
        return self.call("POST", "scenario", scenario)

    def fault(self, route: str, kind: str, **spec: Any) -> dict[str, Any]:
        return self.call("POST", "faults", {"route": route, "kind": kind, **spec})

    def rules(self, **rules: Any) -> dict[str, Any]:
        """Add ARM rules: denied_actions=[{scope, actions}], policies=[{name, scope, resource_types, not_resource_types, locations, initiative}],
        role_definitions=[{name, roleName, assignableScopes}], deleted_principals=[object ids]."""
        return self.call("POST", "rules", rules)

    def clear_faults(self) -> None:
        self.call("DELETE", "faults")

    def settings(self, **settings: Any) -> dict[str, Any]:
        return self.call("POST", "settings", settings)

    def advance(self, seconds: float) -> None:
        self.call("POST", "clock/advance", {"seconds": seconds})

    def freeze(self, frozen: bool = True) -> None:
        """Stop the emulator's clock (it moves only by advance) or, with False, let it run again."""
        self.call("POST", "clock", {"frozen": frozen})

    def speed(self, speed: float) -> None:
        """Run the emulator's clock ``speed`` emulated seconds per real second (1: real time)."""
        self.call("POST", "clock", {"speed": speed})

    def job(self, job_id: str, action: str) -> dict[str, Any]:
        return self.call("POST", "jobs/action", {"id": job_id, "action": action})

    def schedule_job_end(self, match: str, end: str, after: float, partial: bool = False, times: int = 1) -> dict[str, Any]:
        return self.call("POST", "jobs/schedule", {"match": match, "end": end, "after": after, "partial": partial, "times": times})

    def traffic(self, endpoint_id: str, requests: int, seconds_ago: float = 0) -> None:
        self.call("POST", "traffic", {"endpoint": endpoint_id, "requests": requests, "seconds_ago": seconds_ago})

    def requests(self, since: int = 0) -> list[dict[str, Any]]:
        return self.call("GET", f"requests?since={since}")["value"]

    def mark(self) -> int:
        """A position in the request log, to ask later what happened after it."""
        return len(self.requests())

    def writes(self, since: int = 0) -> list[dict[str, Any]]:
        """Requests since ``since`` that could change Azure: PUT, PATCH, DELETE and non-list POSTs."""
        return [r for r in self.requests(since) if kind_of(r["method"], r["path"]) != "reads"]

    def resources(self) -> list[dict[str, Any]]:
        return self.call("GET", "resources")["value"]
