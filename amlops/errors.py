"""The project's exception tree: one class per outcome, each carrying the exit code `amlops` ends with.

No SDK imports here: every layer may raise these. `amlops.azure.errors` translates the Azure SDKs'
exceptions onto this tree; the CLI reads `exit_code` and nothing else.

Exit codes: 0 done; 2 bad input (nothing written); 3 refused (nothing changed, or what changed was put
back); 4 finished with work left for a person; 1 Azure or the machine failed, or a bug.
"""

from __future__ import annotations

from typing import Any, ClassVar


class AmlopsError(Exception):
    """Base of everything amlops raises on purpose. ``code`` is ARM's error code where there is one,
    else the class's name."""

    exit_code: ClassVar[int] = 1
    retry_after: float | None = None

    def __init__(self, message: str, code: str = "", status: int | None = None, details: list[dict[str, Any]] | None = None):
        super().__init__(message)
        self.message = message
        self.code = code or type(self).__name__
        self.status = status
        self.details = details or []


# -- 2: bad input


class InvalidInput(AmlopsError):
    """The caller asked for something malformed or impossible; nothing was written."""

    exit_code = 2


# -- 3: refused


class Refused(AmlopsError):
    """amlops declined to go on: a rule, a person or Azure's validation said no. Nothing was changed,
    or what was changed has been put back."""

    exit_code = 3


class PreflightFailed(Refused):
    """A precondition of an operation does not hold; ``details`` lists each with its fix."""


class MoveValidationFailed(Refused):
    """validateMoveResources said no; ``details`` holds ARM's reasons, each with code and message."""


class PlanNotApproved(Refused):
    """The plan was rejected, or an unattended approval was not confirmed."""


class PlanChanged(Refused):
    """The workspace changed while the plan waited for approval."""


class MoveInProgress(Refused):
    """Another live run is moving this workspace."""


class TeardownFailed(Refused):
    """Deleting compute or endpoints before the move failed; the source is put back."""


class MoveFailed(Refused):
    """Azure refused or failed the move; the workspace is still in the source."""


class TrainingStopped(Refused):
    """Training stopped without completing: the budgets, a cancellation or the script say so."""


# -- 4: work left for a person


class LeftForAPerson(AmlopsError):
    """amlops finished what it could; a person must do the rest (the message lists it)."""

    exit_code = 4


class MoveIncomplete(LeftForAPerson):
    """The move finished, and verification found items that do not match the plan."""


class MoveNeedsAPerson(LeftForAPerson):
    """The move cannot safely go on by itself: the workspace is not where a step expects it. Nothing was touched."""


class RestoreIncomplete(LeftForAPerson):
    """The move stopped before Azure moved anything, and putting back the source left work."""


class ApprovalTimedOut(LeftForAPerson):
    """Nobody answered in time. Nothing was decided; nothing changed."""


# -- 1: Azure or the machine failed (translated from the SDKs)


class NotFound(AmlopsError):
    pass


class Conflict(AmlopsError):
    pass


class Locked(Conflict):
    """A resource group is locked, as ARM locks both groups while a move runs."""


class TransientError(AmlopsError):
    """Azure's own trouble (408, 5xx, a dropped connection) that outlasted the HTTP layer's retries
    (amlops.azure.retry): nobody above retries it again."""


class Throttled(TransientError):
    """429 still, after the HTTP layer waited out every Retry-After: Azure did not act on the request."""

    def __init__(self, message: str, retry_after: float | None = None, **kw: Any):
        super().__init__(message, **kw)
        self.retry_after = retry_after


class Unconfirmed(TransientError):
    """An action (moveResources, start, stop, a job submission...) whose answer was lost: a 5xx or a connection
    dropped after it was sent. Azure may have acted; the step reads Azure's state before sending it again."""


class OperationInterrupted(TransientError):
    """A long-running operation Azure accepted ended Failed for Azure's own trouble (InternalServerError,
    ServiceUnavailable...): the step, which reads Azure before it writes, may run again."""


class OperationFailed(AmlopsError):
    """A long-running operation Azure accepted ended Failed; ``code`` is Azure's reason (QuotaExceeded, ...)."""


class TimedOut(AmlopsError):
    """We stopped waiting; Azure may still finish the operation."""


class AuthenticationFailed(AmlopsError):
    pass


def _outcomes(cls: type[AmlopsError]) -> list[type[AmlopsError]]:
    return [cls, *(c for sub in cls.__subclasses__() for c in _outcomes(sub))]


# Outcome class name -> exit code, for every outcome that is not a failure (1): the README's list is checked against it.
EXIT_CODES: dict[str, int] = {c.__name__: c.exit_code for c in _outcomes(AmlopsError) if c.exit_code != 1}


def exit_code(err: BaseException) -> int:
    """The code `amlops` exits with after ``err``: the class says; anything not ours is a bug (1)."""
    return err.exit_code if isinstance(err, AmlopsError) else 1
