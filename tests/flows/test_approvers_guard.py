"""An approval counts only from someone on the deployment's list, and never from the run's starter: anyone
else is refused with the reason and the run asks again (flows.approvals over amlops.approvers)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Any
from uuid import UUID

import pytest
from prefect import tags
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId
from prefect.flow_runs import resume_flow_run
from prefect.variables import Variable

from amlops.approvers import VARIABLE
from amlops.errors import InvalidInput
from app.cli import main
from flows import pauses
from flows.approve_private_endpoints import approve_private_endpoints
from tests.conftest import WS_ID, Env
from tests.flows.test_approvals import Background, _pending_scenario, _statuses


@pytest.fixture
def approvers() -> Iterator[None]:
    Variable.set(VARIABLE, {"approve-private-endpoints": ["alice", "bob"]}, overwrite=True)
    try:
        yield
    finally:
        Variable.unset(VARIABLE)


def _tagged(starter: str) -> Any:
    """approve-private-endpoints as its starter runs it, tagged `started-by:NAME` (what an open-source server
    knows of who started a run); the tag is set in the run's own thread, where the flow is called."""

    class Tagged:
        def with_options(self, **options: Any) -> Any:
            named = approve_private_endpoints.with_options(**options)

            def call(**kwargs: Any) -> Any:
                with tags(f"started-by:{starter}"):
                    return named(**kwargs)

            return call

    return Tagged()


def _resume_in_ui(run: pauses.PausedRun, approver: str) -> None:
    resume_flow_run(UUID(run.id), run_input=pauses.answer_for(run, True, approver, "", "", {"partner-1": "approve"}))


def _decision_table(run_id: str) -> list[dict[str, Any]]:
    with get_client(sync_client=True) as client:
        found = client.read_artifacts(artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[UUID(run_id)])))
    table = next(a for a in found if a.key == "private-endpoint-decisions")
    data = json.loads(table.data) if isinstance(table.data, str) else table.data
    assert isinstance(data, list), data
    return data


def test_an_outsider_and_the_starter_are_refused_and_the_run_asks_again(flows_env: Env, approvers: None) -> None:
    _pending_scenario(flows_env)
    mark = flows_env.control.mark()
    run = Background(_tagged("alice"), workspace=WS_ID, poll_seconds=1)
    first = run.paused("partner-1")
    with pytest.raises(InvalidInput, match="eve is not on this deployment's list of approvers"):
        pauses.answer(first.id, approve=True, approver="eve", reason="I can", decisions={"partner-1": "approve"})  # `amlops approve`
    _resume_in_ui(first, "eve")  # the UI's Resume sends what it is given: the run itself refuses
    second = run.paused("partner-1", newer_than=first)
    assert "eve is not on this deployment's list of approvers (alice, bob)" in second.description
    with pytest.raises(InvalidInput, match="Alice started this run"):
        pauses.answer(second.id, approve=True, approver="Alice", reason="mine", decisions={"partner-1": "approve"})
    _resume_in_ui(second, "Alice")
    third = run.paused("partner-1", newer_than=second)
    assert "Alice started this run and may not approve it" in third.description
    assert flows_env.control.writes(mark) == [], "no refused answer changed a connection"
    pauses.answer(third.id, approve=True, approver="bob", reason="CHG-9", decisions={"partner-1": "approve"})
    state = run.result()
    assert state.is_completed() and _statuses(flows_env)["partner-1"] == "Approved"
    rows = _decision_table(first.id)
    assert [(r["connection"], r["decided_by"], r["started_by"]) for r in rows] == [("partner-1", "bob", "alice")], "both names in the record"


def test_a_run_started_from_the_terminal_says_who_started_it(flows_env: Env, approvers: None) -> None:
    """`amlops approve-endpoints --started-by alice`: the run is tagged so, alice's answer is refused, and the
    decision table names her as its starter."""
    _pending_scenario(flows_env)
    codes: list[int] = []
    command = threading.Thread(target=lambda: codes.append(main(["approve-endpoints", "--workspace", WS_ID, "--poll", "1", "--started-by", "alice"])), daemon=True)
    known = {r.id for r in pauses.list_paused()}
    command.start()
    deadline = time.monotonic() + 300
    while not (paused := [r for r in pauses.list_paused() if r.id not in known and "partner-1" in r.asks]):
        assert command.is_alive() and time.monotonic() < deadline, f"the run never paused: {codes}"
        time.sleep(0.3)
    with pytest.raises(InvalidInput, match="alice started this run and may not approve it"):
        pauses.answer(paused[0].id, approve=True, approver="alice", reason="mine", decisions={"partner-1": "approve"})
    pauses.answer(paused[0].id, approve=True, approver="bob", reason="CHG-9", decisions={"partner-1": "approve"})
    command.join(300)
    assert codes == [0] and _statuses(flows_env)["partner-1"] == "Approved"
    assert [(r["decided_by"], r["started_by"]) for r in _decision_table(paused[0].id)] == [("bob", "alice")]
