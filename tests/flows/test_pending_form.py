"""`amlops pending` (and `approve`, which reads the same list) in the moment a run has just suspended: Prefect
proposes the Suspended state first and saves the form's schema just after (prefect/flow_runs.py
suspend_flow_run). A person who asks in between sees the form, not an empty one."""

from __future__ import annotations

import json
import threading
import time

from prefect import flow
from prefect.client.orchestration import get_client
from prefect.client.schemas.objects import State
from prefect.input.run_input import keyset_from_paused_state
from prefect.states import Running, Suspended

from flows import pauses

FORM = {"title": "Approve the move plan", "type": "object", "properties": {"workspace_name": {"title": "workspace_name", "type": "string"}}}


@flow(name="pending-form-race")
def _waits_for_a_person() -> None:
    """Never run: the test drives its run's states itself, as suspend_flow_run does."""


def test_a_run_read_between_its_suspension_and_its_saved_form_shows_the_form(prefect_server: str) -> None:
    with get_client(sync_client=True) as client:
        run = client.create_flow_run(_waits_for_a_person)
        client.set_flow_run_state(run.id, Running(), force=True)
        suspended: State[None] = Suspended(timeout_seconds=600, pause_key="plan")
        keyset = keyset_from_paused_state(suspended)
        suspended.state_details.run_input_keyset = {str(k): v for k, v in keyset.items()}
        client.set_flow_run_state(run.id, suspended, force=True)

    def save_the_form_late() -> None:
        time.sleep(1.5)
        with get_client(sync_client=True) as late:
            late.create_flow_run_input(run.id, key=keyset["schema"], value=json.dumps(FORM))

    saver = threading.Thread(target=save_the_form_late)
    saver.start()
    try:
        found = {r.id: r for r in pauses.list_paused()}
    finally:
        saver.join()
    assert str(run.id) in found, "a suspended run is listed as waiting for a person"
    assert found[str(run.id)].fields == FORM["properties"], "the form Prefect saved a moment after suspending, not an empty one"
    assert found[str(run.id)].form_title == FORM["title"]
