"""The one place that maps Azure SDK errors onto the project's exception tree (amlops.errors)."""

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

from amlops.azure.retry import Kind, declared
from amlops.errors import (
    AmlopsError,
    AuthenticationFailed,
    Conflict,
    InvalidInput,
    Locked,
    MoveValidationFailed,
    NotFound,
    OperationFailed,
    OperationInterrupted,
    Throttled,
    TransientError,
    Unconfirmed,
)

# Failed long-running operations that are Azure's own trouble, worth another try.
TRANSIENT_OPERATION_CODES = {"InternalServerError", "ServiceUnavailable", "InternalOperationError", "GatewayTimeout"}


def _arm_error(err: HttpResponseError) -> tuple[str, str, list[dict[str, Any]]]:
    """ARM's code, message and details, from the SDK's parsed error or the raw body."""
    code, message, details = "", err.message or str(err), []
    model = getattr(err, "error", None)
    if model is not None and getattr(model, "code", None):
        code, message = model.code, model.message or message
        details = [{"code": d.code, "message": d.message, "target": getattr(d, "target", None)} for d in (model.details or [])]
    response: Any = err.response  # azure-core types it as the common base; both transports' responses have json()
    if response is not None:
        try:
            body = response.json()
            inner = body.get("error", body) if isinstance(body, dict) else {}
            code = inner.get("code") or code
            message = inner.get("message") or message
            details = inner.get("details") or details
        except Exception:  # noqa: BLE001 - a body that is not JSON keeps the SDK's words
            pass
    return code, message, details


def _retry_after(err: HttpResponseError) -> float | None:
    response: Any = err.response  # as above: the concrete responses carry headers
    headers = response.headers if response is not None else {}
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
            return OperationInterrupted(message, **kw) if code in TRANSIENT_OPERATION_CODES else OperationFailed(message, **kw)
        if status == 429:
            return Throttled(message, retry_after=_retry_after(err), **kw)
        if isinstance(err, ResourceNotFoundError) or status == 404:
            return NotFound(message, **kw)
        if code == "ScopeLocked":
            return Locked(message, **kw)
        if code in ("ResourceMoveProviderValidationFailed", "ResourceMoveValidationFailed"):  # the latter: recorded Azure
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


def unconfirmed(error: AmlopsError, cause: BaseException | None) -> AmlopsError:
    """An action's failure as the caller must see it: a 5xx, or a connection dropped after the request was sent,
    leaves unknown whether Azure acted (Unconfirmed); a 429 or a connection refused before sending does not."""
    if type(error) is not TransientError or isinstance(cause, ServiceRequestError):
        return error
    return Unconfirmed(f"{error.message} Azure may have acted; amlops looks before sending it again.", code=error.code, status=error.status, details=error.details)


@contextlib.contextmanager
def azure_errors(kind: Kind | None = None) -> Iterator[None]:
    """Wrap SDK calls so callers only ever see the project's exceptions; ``kind`` declares what the requests
    sent inside do, for the HTTP layer's retries (amlops.azure.retry)."""
    with declared(kind):
        try:
            yield
        except AmlopsError as err:
            if kind is Kind.ACTION:
                raise unconfirmed(err, err.__cause__) from err.__cause__
            raise
        except Exception as err:
            error = translate(err)
            raise (unconfirmed(error, err) if kind is Kind.ACTION else error) from err
