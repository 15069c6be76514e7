"""What `amlops` lets through to the terminal: its own lines and the bugs' tracebacks, not housekeeping."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest

from amlops import terminal
from amlops.errors import PlanNotApproved

# Records made up here have no flow run for Prefect's API handler to send them to; it says so, rightly.
pytestmark = pytest.mark.filterwarnings("ignore:Logger 'prefect.flow_runs' attempted to send logs to the API:UserWarning")


@pytest.fixture
def console() -> Iterator[io.StringIO]:
    """A console handler on the root logger, where Prefect's and azure-ai-ml's records end up."""
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(logging.Formatter("%(name)s | %(message)s"))
    root, level = logging.getLogger(), logging.getLogger().level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    terminal.quiet()
    yield out
    root.removeHandler(handler)
    root.setLevel(level)


def _raised(err: Exception) -> Exception:
    """The exception with a traceback, as a log record carries one."""
    try:
        raise err
    except type(err) as caught:
        return caught


def test_an_outcome_is_logged_without_traceback_a_bug_with_one(console: io.StringIO) -> None:
    runs = logging.getLogger("prefect.flow_runs")
    runs.error("Encountered exception during execution: %r", "outcome", exc_info=_raised(PlanNotApproved("The plan was rejected by bob.")))
    assert "Encountered exception during execution" in console.getvalue() and "Traceback" not in console.getvalue()
    runs.error("Encountered exception during execution: %r", "bug", exc_info=_raised(KeyError("a bug")))
    assert "Traceback" in console.getvalue() and "KeyError: 'a bug'" in console.getvalue()


def test_library_housekeeping_is_dropped_and_everything_else_kept(console: io.StringIO) -> None:
    logging.getLogger("azure.ai.ml._utils._experimental").warning("Class AutoDeleteSettingSchema: This is an experimental class, and may change at any time.")
    logging.getLogger("prefect").info("Starting temporary server on http://127.0.0.1:8957")
    logging.getLogger("prefect").info("Stopping temporary server on http://127.0.0.1:8957")
    logging.getLogger("EventsWorker").warning("Still processing items: 3 items remaining...")
    logging.getLogger("prefect").warning("Something a person should see")
    logging.getLogger("prefect.flow_runs").info("Step quiesce done")
    assert console.getvalue().splitlines() == ["prefect | Something a person should see", "prefect.flow_runs | Step quiesce done"]
