"""What every task shares: the process's SDK clients and the retry rule (transient errors only)."""

from __future__ import annotations

import functools
from collections.abc import Coroutine
from typing import Any, TypeVar

from prefect import Task
from prefect.cache_policies import NO_CACHE
from prefect.client.schemas.objects import TaskRun
from prefect.states import State

from amlops.azure.clients import Clients
from amlops.azure.retry import is_transient


@functools.cache
def clients() -> Clients:
    """One set of SDK clients per process, for the target the environment names."""
    return Clients()


def transient_only(task: Task[..., Any], task_run: TaskRun, state: State[Any]) -> bool:
    """Prefect's retry_condition_fn: retry a task only when its error is classified transient."""
    error = state.result(raise_on_failure=False)
    return isinstance(error, BaseException) and is_transient(error)


# Task defaults: no result caching (every task reads live Azure state and is idempotent by checking
# it), retries only for transient errors, the HTTP layer below already having retried throttling.
TASK_DEFAULTS: dict[str, Any] = {"retries": 2, "retry_delay_seconds": 5, "retry_condition_fn": transient_only, "cache_policy": NO_CACHE}


T = TypeVar("T")


def sync_result(value: T | Coroutine[Any, Any, T]) -> T:
    """Prefect's dual sync/async functions (create_progress_artifact, ...) are typed as returning either;
    called from sync code, as every flow here is, they return the value."""
    assert not isinstance(value, Coroutine), "called from async code"
    return value
