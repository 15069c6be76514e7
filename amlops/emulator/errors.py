"""ARM's error envelope: ``{"error": {"code", "message"}}`` with ARM's codes."""

from __future__ import annotations

import re
from typing import Any


class ArmError(Exception):
    def __init__(self, status: int, code: str, message: str, details: list[dict[str, Any]] | None = None, inner: str | None = None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details or []
        # Azure ML's inner error under a general code such as UserError, "NotFound" or "NotFound/EndpointNotFound":
        # error.additionalInfo[{type: InnerError, info: {value: {code, innerError}}}] (batch_endpoint_create_delete.json)
        self.inner = inner

    def envelope(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.details or self.inner:
            error["details"] = self.details
        if self.inner:
            code, _, nested = self.inner.partition("/")
            value: dict[str, Any] = {"code": code, "innerError": {"code": nested, "innerError": None} if nested else None}
            error["additionalInfo"] = [{"type": "InnerError", "info": {"value": value}}]
        return {"error": error}


_TOP_LEVEL = re.compile(r"^/subscriptions/[^/]+/resourceGroups/([^/]+)/providers/([^/]+/[^/]+/[^/]+)/?$", re.IGNORECASE)


def not_found(resource_id: str, kind: str = "Resource") -> ArmError:
    code = "ResourceGroupNotFound" if kind == "ResourceGroup" else "ResourceNotFound"
    top = _TOP_LEVEL.match(resource_id)
    if top and kind != "ResourceGroup":  # ARM's words for a top-level resource (workspace_get_missing.json)
        return ArmError(
            404,
            code,
            f"The Resource '{top.group(2)}' under resource group '{top.group(1)}' was not found. "
            "For more details please go to https://aka.ms/ARMResourceNotFoundFix",
        )
    return ArmError(404, code, f"The {kind} '{resource_id}' was not found.")


def bad_request(message: str, code: str = "BadRequest") -> ArmError:
    return ArmError(400, code, message)


def conflict(message: str, code: str = "Conflict") -> ArmError:
    return ArmError(409, code, message)
