"""The CLI tests run the real `amlops` command against the session's emulator and Prefect server."""

from tests.flows.conftest import flows_env, prefect_server, warm_amlops  # noqa: F401 - fixtures shared with the flow tests
