"""A client for the emulator's control API, over HTTPS like everything else (stdlib only)."""

from __future__ import annotations

import http.client
import json
import select
import ssl
import threading
from typing import Any
from urllib.parse import urlsplit

from amlops.emulator.throttle import kind_of


class EmulatorControl:
    """Each thread keeps one connection open (the emulator speaks HTTP/1.1 keep-alive): tests poll the control API
    many times a second, and a TLS handshake per call cost more than the call itself."""

    def __init__(self, base_url: str, ca_file: str) -> None:
        self.base_url = base_url.rstrip("/")
        self._url = urlsplit(self.base_url)
        self._context = ssl.create_default_context(cafile=ca_file)
        self._local = threading.local()

    def _connection(self) -> http.client.HTTPSConnection:
        kept: http.client.HTTPSConnection | None = getattr(self._local, "connection", None)
        if kept is not None and kept.sock is not None and not select.select([kept.sock], [], [], 0)[0]:
            return kept  # idle and open: the peer has neither closed it nor sent anything unasked
        if kept is not None:
            kept.close()
        self._local.connection = http.client.HTTPSConnection(self._url.hostname or "127.0.0.1", self._url.port, context=self._context, timeout=30)
        return self._local.connection

    def call(self, method: str, action: str, body: Any = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        connection = self._connection()
        try:
            connection.request(method, f"{self._url.path}/_emulator/{action}", body=data, headers={"Content-Type": "application/json"})
            response = connection.getresponse()
            raw = response.read()
        except BaseException:
            connection.close()  # the next call starts afresh rather than read a half-answered exchange
            raise
        if response.status >= 400:
            raise RuntimeError(f"emulator control {method} {action}: {response.status} {raw[:2000]!r}")
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
        return int(self.call("GET", "counters")["total"])

    def writes(self, since: int = 0) -> list[dict[str, Any]]:
        """Requests since ``since`` that could change Azure: PUT, PATCH, DELETE and non-list POSTs."""
        return [r for r in self.requests(since) if kind_of(r["method"], r["path"]) != "reads"]

    def resources(self) -> list[dict[str, Any]]:
        return self.call("GET", "resources")["value"]
