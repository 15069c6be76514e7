"""What a person reads in the terminal: amlops' own lines, not the libraries' housekeeping.

Three kinds of line are dropped, each by the logger that emits it (no Prefect or SDK import needed):
- azure-ai-ml's "Class ...Schema: This is an experimental class" warnings (azure/ai/ml/_utils/_experimental.py
  logs one per class it builds while parsing its own schemas; amlops never chooses those classes);
- Prefect's "Starting/Stopping temporary server" notices (prefect/server/api/server.py, logger "prefect"):
  a one-off run's server is an implementation detail, and its stop line used to come after amlops' answer;
- Prefect's "Still processing items: N items remaining..." from its background services
  (prefect/_internal/concurrency/services.py, loggers named after the service class) while they drain.
Every other record, warnings and errors included, passes.

And an outcome is not a bug: when a flow or task run ends with one of amlops' own exceptions (amlops.errors),
Prefect's "Encountered exception during execution" record keeps its one-line message but loses the
traceback (prefect/flow_engine.py and task_engine.py log it with exc_info). Any other exception keeps it.
"""

from __future__ import annotations

import logging

from amlops.errors import AmlopsError

_DROPPED = {
    "azure.ai.ml._utils._experimental": ("Class ", "Method "),
    "prefect": ("Starting temporary server", "Stopping temporary server"),
    "EventsWorker": ("Still processing items",),
    "APILogWorker": ("Still processing items",),
}


class _Drop(logging.Filter):
    def __init__(self, prefixes: tuple[str, ...]) -> None:
        super().__init__()
        self.prefixes = prefixes

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(self.prefixes)


class _OutcomeWithoutTraceback(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if isinstance(error, AmlopsError):
            record.exc_info, record.exc_text = None, None
        return True


def _install(name: str, new: logging.Filter) -> None:
    logger = logging.getLogger(name)
    if not any(type(f) is type(new) for f in logger.filters):
        logger.addFilter(new)


def quiet() -> None:
    """Install the filters once per process (a logger's filters see only the records it emits itself)."""
    for name, prefixes in _DROPPED.items():
        _install(name, _Drop(prefixes))
    for name in ("prefect.flow_runs", "prefect.task_runs"):
        _install(name, _OutcomeWithoutTraceback())
