"""Pure rules for approvals: allow-list matching, decisions checked against what is pending, audit records."""

from __future__ import annotations

import fnmatch
from datetime import UTC, datetime
from typing import Literal

from pydantic import Field

from amlops.models import Model, PrivateEndpointConnection


class AllowList(Model):
    """Private endpoints approved without a person: by subscription, resource group, or endpoint id pattern."""

    subscriptions: list[str] = Field(default_factory=list)
    resource_groups: list[str] = Field(default_factory=list, description="'<subscription>/<group>' or just '<group>'")
    endpoint_patterns: list[str] = Field(default_factory=list, description="fnmatch patterns over the private endpoint id")

    def match(self, connection: PrivateEndpointConnection) -> str | None:
        """Why the allow-list approves this connection, or None."""
        sub, group, endpoint = connection.endpoint_subscription.lower(), connection.endpoint_resource_group.lower(), connection.private_endpoint_id.lower()
        if sub in {s.lower() for s in self.subscriptions}:
            return f"subscription {sub} is allow-listed"
        for entry in self.resource_groups:
            want = entry.lower()
            if want == group or want == f"{sub}/{group}":
                return f"resource group {entry} is allow-listed"
        for pattern in self.endpoint_patterns:
            if fnmatch.fnmatch(endpoint, pattern.lower()):
                return f"endpoint matches {pattern}"
        return None

    @property
    def empty(self) -> bool:
        return not (self.subscriptions or self.resource_groups or self.endpoint_patterns)


Verdict = Literal["approve", "reject"]


class Decision(Model):
    """One connection's fate, who decided, and why: the audit record."""

    connection: str
    private_endpoint_id: str
    verdict: Verdict
    decided_by: str
    reason: str
    via: Literal["allow-list", "person", "policy"]
    at: str = Field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))
    outcome: str = ""  # what happened when acted on: Approved / Rejected / skipped because ...


def check_decisions(pending: list[str], decided: dict[str, Verdict]) -> list[str]:
    """Problems with a person's answer: names that are not pending. Empty means acceptable."""
    unknown = sorted(set(decided) - set(pending))
    return [f"'{name}' is not a pending connection (pending: {', '.join(sorted(pending)) or 'none'})" for name in unknown]
