"""What every task shares: the process's SDK clients and the retry rule (a step runs again only after an action's
lost answer or an operation Azure failed on its own: amlops.azure.retry says which layer retries what)."""

from __future__ import annotations

import functools
from collections.abc import Coroutine
from typing import Any, TypeVar

from prefect import Task
from prefect.cache_policies import NO_CACHE
from prefect.client.schemas.objects import TaskRun
from prefect.states import State

from amlops.azure.clients import Clients
from amlops.azure.retry import rerun_step


@functools.cache
def clients() -> Clients:
    """One set of SDK clients per process, for the target the environment names."""
    return Clients()


def step_retriable(task: Task[..., Any], task_run: TaskRun, state: State[Any]) -> bool:
    """Prefect's retry_condition_fn: run a step again only for what the HTTP layer may not retry (an action's
    answer lost) or cannot (an accepted operation Azure ended with its own trouble); never for what it
    already retried (429, 5xx, dropped connections of reads and idempotent writes)."""
    error = state.result(raise_on_failure=False)
    return isinstance(error, BaseException) and rerun_step(error)


# Task defaults: no result caching (every task reads live Azure state and is idempotent by checking it); a step
# runs again (it reads Azure before it writes, so an action Azure did carry out is not sent twice) only after
# the errors step_retriable names, a second later.
TASK_DEFAULTS: dict[str, Any] = {"retries": 3, "retry_delay_seconds": 1, "retry_condition_fn": step_retriable, "cache_policy": NO_CACHE}


T = TypeVar("T")


def sync_result(value: T | Coroutine[Any, Any, T]) -> T:
    """Prefect's dual sync/async functions (create_progress_artifact, ...) are typed as returning either;
    called from sync code, as every flow here is, they return the value."""
    assert not isinstance(value, Coroutine), "called from async code"
    return value
