"""A real Prefect server for the rehearsals (the flow fixtures' own), and the demo workspace as a snapshot source."""

from tests.flows.conftest import flows_env, prefect_server

__all__ = ["flows_env", "prefect_server"]
