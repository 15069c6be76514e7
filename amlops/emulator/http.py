"""The request and response values that handlers see: no sockets, no framework."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any
    base_url: str
    params: dict[str, str] = field(default_factory=dict)
    lro_error: tuple[str, str] | None = None  # a fault rule says this request's long-running operation fails so

    @property
    def api_version(self) -> str:
        return self.query.get("api-version", "")

    def url(self, path: str, **query: str) -> str:
        """An absolute URL on this emulator, the way ARM hands out nextLink and LRO URLs."""
        qs = "&".join(f"{k}={v}" for k, v in query.items())
        return f"{self.base_url}{path}" + (f"?{qs}" if qs else "")


@dataclass
class Response:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


def ok(body: Any = None, status: int = 200) -> Response:
    return Response(status, body)
