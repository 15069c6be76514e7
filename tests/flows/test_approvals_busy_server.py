"""`amlops pending` and `amlops approve` against a busy Prefect server (a proxy in front of the real one answering
a share of the requests 429, 500, 503 or dropping the connection, before or after the server saw them)."""

from __future__ import annotations

import pytest
from prefect.settings import PREFECT_API_URL, temporary_settings

from app.cli import main
from tests.conftest import Env
from tests.flows.test_approvals import _pending_scenario, _run, _statuses
from tests.prefect_faults import FaultyProxy


@pytest.mark.parametrize("rate", [0.1, 0.2])
def test_pending_and_approve_carry_on_through_a_busy_server(flows_env: Env, prefect_server: str, capsys: pytest.CaptureFixture[str], rate: float) -> None:
    _pending_scenario(flows_env)
    run = _run()
    paused = run.paused("partner-1")
    # The resume reaches the server but its answer is lost: Prefect's client sends it again, the server refuses the
    # second (the run is no longer paused), and `amlops approve` reads back that its answer was taken.
    with FaultyProxy(prefect_server, rate, seed=int(rate * 100), first={"/resume": "drop_after"}) as proxy, temporary_settings({PREFECT_API_URL: proxy.url}):
        assert main(["pending"]) == 0
        assert paused.id in capsys.readouterr().out
        assert main(["approve", paused.id, "--approver", "bob", "--reason", "INC-9", "--decide", "partner-1=approve", "--decide", "hub-2=approve", "--decide", "unknown-1=reject"]) == 0
    assert run.result().is_completed()
    assert (_statuses(flows_env)["partner-1"], _statuses(flows_env)["unknown-1"]) == ("Approved", "Rejected")
    assert ("POST", f"/api/flow_runs/{paused.id}/resume", "drop_after") in proxy.log
