"""The project's exception tree, and the one place that maps Azure SDK errors onto it."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from typing import Any

from azure.core.exceptions import (
    ClientAuthenticationError,
    HttpResponseError,
    ResourceExistsError,
    ResourceNotFoundError,
    ServiceRequestError,
    ServiceResponseError,
)


class AmlopsError(Exception):
    """Base of everything amlops raises on purpose. ``code`` is ARM's error code where there is one."""

    retry_after: float | None = None

    def __init__(self, message: str, code: str = "", status: int | None = None, details: list[dict[str, Any]] | None = None):
        super().__init__(message)
        self.message = message
        self.code = code
        self.status = status
        self.details = details or []


class InvalidInput(AmlopsError):
    """The caller asked for something malformed or impossible; nothing was written."""


class NotFound(AmlopsError):
    pass


class Conflict(AmlopsError):
    pass


class Locked(Conflict):
    """A resource group is locked, as ARM locks both groups while a move runs."""


class Throttled(AmlopsError):
    def __init__(self, message: str, retry_after: float | None = None, **kw: Any):
        super().__init__(message, **kw)
        self.retry_after = retry_after


class TransientError(AmlopsError):
    """Worth trying again: 5xx, dropped connections, failed long-running operations Azure blames on itself."""


class OperationFailed(AmlopsError):
    """A long-running operation Azure accepted ended Failed; ``code`` is Azure's reason (QuotaExceeded, ...)."""


class TimedOut(AmlopsError):
    """We stopped waiting; Azure may still finish the operation."""


# Failed long-running operations that are Azure's own trouble, worth another try.
TRANSIENT_OPERATION_CODES = {"InternalServerError", "ServiceUnavailable", "InternalOperationError", "GatewayTimeout"}


class MoveValidationFailed(AmlopsError):
    """validateMoveResources said no; ``details`` holds ARM's reasons, each with code and message."""


class AuthenticationFailed(AmlopsError):
    pass


class PreflightFailed(AmlopsError):
    """A precondition of an operation does not hold; ``details`` lists each with its fix."""


def _arm_error(err: HttpResponseError) -> tuple[str, str, list[dict[str, Any]]]:
    """ARM's code, message and details, from the SDK's parsed error or the raw body."""
    code, message, details = "", err.message or str(err), []
    model = getattr(err, "error", None)
    if model is not None and getattr(model, "code", None):
        code, message = model.code, model.message or message
        details = [{"code": d.code, "message": d.message, "target": getattr(d, "target", None)} for d in (model.details or [])]
    if err.response is not None:
        try:
            body = err.response.json()
            inner = body.get("error", body) if isinstance(body, dict) else {}
            code = inner.get("code") or code
            message = inner.get("message") or message
            details = inner.get("details") or details
        except Exception:  # noqa: BLE001 - a body that is not JSON keeps the SDK's words
            pass
    return code, message, details


def _retry_after(err: HttpResponseError) -> float | None:
    headers = err.response.headers if err.response is not None else {}
    for name, scale in (("retry-after-ms", 0.001), ("x-ms-retry-after-ms", 0.001), ("Retry-After", 1.0)):
        value = headers.get(name)
        if value and re.fullmatch(r"\d+(\.\d+)?", value):
            return float(value) * scale
    return None


def translate(err: BaseException) -> AmlopsError:
    """Map an exception from the Azure SDKs onto the project's tree."""
    if isinstance(err, AmlopsError):
        return err
    if isinstance(err, ClientAuthenticationError):
        return AuthenticationFailed(f"Azure refused the credentials: {err.message}. Sign in (az login) or check the service principal.")
    if isinstance(err, (ServiceRequestError, ServiceResponseError)):
        return TransientError(f"Connection to Azure failed: {err}")
    if isinstance(err, HttpResponseError):
        code, message, details = _arm_error(err)
        status = err.status_code
        kw: dict[str, Any] = {"code": code, "status": status, "details": details}
        if status is not None and status < 400:  # the poller read a Failed status from a 200
            return TransientError(message, **kw) if code in TRANSIENT_OPERATION_CODES else OperationFailed(message, **kw)
        if status == 429:
            return Throttled(message, retry_after=_retry_after(err), **kw)
        if isinstance(err, ResourceNotFoundError) or status == 404:
            return NotFound(message, **kw)
        if code == "ScopeLocked":
            return Locked(message, **kw)
        if code == "ResourceMoveProviderValidationFailed":
            return MoveValidationFailed(message, **kw)
        if isinstance(err, ResourceExistsError) or status == 409:
            return Conflict(message, **kw)
        if status in (401, 403):
            return AuthenticationFailed(message, **kw)
        if status is None or status >= 500:
            return TransientError(message, **kw)
        return InvalidInput(message, **kw)
    # azure-ai-ml raises its own validation errors before any request is sent.
    module = type(err).__module__
    if module.startswith("azure.ai.ml") or isinstance(err, (ValueError, TypeError)):
        return InvalidInput(str(err))
    raise err


@contextlib.contextmanager
def azure_errors() -> Iterator[None]:
    """Wrap SDK calls so callers only ever see the project's exceptions."""
    try:
        yield
    except AmlopsError:
        raise
    except Exception as err:
        raise translate(err) from err
