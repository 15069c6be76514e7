"""Fault injection: rules that make chosen requests fail the ways Azure's do."""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field
from typing import Any

# drop: the connection closes before the request is processed; drop_after: the request is processed, then the
# connection closes before the answer leaves (the answer lost on the way back: azure-core's ServiceResponseError,
# "the server began processing it").
KINDS = {"429", "500", "503", "409", "drop", "drop_after", "lro_failed"}


@dataclass
class FaultRule:
    route: str  # a regular expression searched in the path, case-insensitively
    kind: str
    method: str | None = None
    count: int | None = None  # how many requests to hit; None = every matching one
    probability: float = 1.0
    retry_after: int = 1
    code: str | None = None  # the ARM error code to answer with (for example QuotaExceeded); a default per kind
    message: str | None = None
    hits: int = 0
    _pattern: re.Pattern[str] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"fault kind must be one of {sorted(KINDS)}, not {self.kind!r}")
        self._pattern = re.compile(self.route, re.IGNORECASE)

    def matches(self, method: str, path: str) -> bool:
        if self.method and self.method.upper() != method:
            return False
        if self.count is not None and self.hits >= self.count:
            return False
        return bool(self._pattern.search(path))

    def describe(self) -> dict[str, Any]:
        return {
            "route": self.route,
            "kind": self.kind,
            "method": self.method,
            "count": self.count,
            "probability": self.probability,
            "code": self.code,
            "hits": self.hits,
        }


class FaultInjector:
    def __init__(self, seed: int = 0) -> None:
        self.rules: list[FaultRule] = []
        self._random = random.Random(seed)

    def add(self, **spec: Any) -> FaultRule:
        rule = FaultRule(**spec)
        self.rules.append(rule)
        return rule

    def pick(self, method: str, path: str) -> FaultRule | None:
        for rule in self.rules:
            if rule.matches(method, path) and self._random.random() < rule.probability:
                rule.hits += 1
                return rule
        return None

    def clear(self) -> None:
        self.rules.clear()
