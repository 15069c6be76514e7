"""Paused flow runs from the outside: what each waits for, and answering one from a terminal."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import httpx
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterState, FlowRunFilterStateType
from prefect.client.schemas.objects import StateType
from prefect.client.schemas.sorting import FlowRunSort
from prefect.flow_runs import resume_flow_run
from prefect.settings import PREFECT_CLIENT_RETRY_EXTRA_CODES, temporary_settings

from amlops import approvers as approver_rules
from amlops.errors import InvalidInput
from flows import forms


def busy_server_retries() -> Any:
    """Prefect's client resends what a busy server or a proxy in front of it refused (408, 429, 502, 503, broken
    connections; PREFECT_CLIENT_MAX_RETRIES times, default 5, waiting Retry-After or 2, 4, 8... s). A busy server's
    500 and 504 too, here: every call below is a read, or a resume whose outcome is read back (``answer``)."""
    return temporary_settings({PREFECT_CLIENT_RETRY_EXTRA_CODES: {*PREFECT_CLIENT_RETRY_EXTRA_CODES.value(), 500, 504}})


@dataclass(frozen=True)
class PausedRun:
    id: str
    name: str
    flow_name: str
    paused_at: str
    timeout_at: str
    form_title: str
    fields: dict[str, dict[str, Any]]  # field name -> its JSON schema (title, enum, description)
    description: str

    @property
    def asks(self) -> list[str]:
        """What the form asks, as `amlops approve` names it: connection names (for --decide), else field names."""
        connections = forms.connections_asked(self.fields)
        return [*connections, *(n for n in self.fields if not n.startswith(forms.CONNECTION_PREFIX))] if connections else list(self.fields)


def _read_input(client: Any, run_id: UUID, key: str | None) -> Any:
    if not key:
        return None
    try:
        return json.loads(client.read_flow_run_input(run_id, key))
    except Exception:  # noqa: BLE001 - an input that was never saved reads as absent
        return None


# Prefect's suspend_flow_run proposes the Suspended state first and saves the form's schema just after
# (prefect/flow_runs.py), so a run read in between names a schema that is not there yet. Only that moment
# after the pause is waited out: a run whose process died in between never gets its form.
SCHEMA_WAIT_SECONDS = 15.0


def _read_schema(client: Any, run_id: UUID, key: str | None, paused_at: datetime | None) -> dict[str, Any]:
    """The form a paused run asks a person to fill, waiting out the moment before Prefect saves it."""
    left = SCHEMA_WAIT_SECONDS - (datetime.now(UTC) - paused_at).total_seconds() if paused_at else 0.0
    deadline = time.monotonic() + left
    while (schema := _read_input(client, run_id, key)) is None and key and time.monotonic() < deadline:
        time.sleep(0.3)
    return schema or {}


def list_paused() -> list[PausedRun]:
    paused = FlowRunFilter(state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.PAUSED])))
    found = []
    with busy_server_retries(), get_client(sync_client=True) as client:
        for run in client.read_flow_runs(flow_run_filter=paused, sort=FlowRunSort.START_TIME_DESC, limit=200, offset=0):
            keyset = (run.state.state_details.run_input_keyset or {}) if run.state else {}
            schema = _read_schema(client, run.id, keyset.get("schema"), run.state.timestamp if run.state else None)
            flow = client.read_flow(run.flow_id)
            found.append(
                PausedRun(
                    id=str(run.id),
                    name=run.name,
                    flow_name=flow.name,
                    paused_at=str(run.state.timestamp if run.state else ""),
                    timeout_at=str(run.state.state_details.pause_timeout if run.state else ""),
                    form_title=schema.get("title", "no input"),
                    fields=schema.get("properties", {}),
                    description=_read_input(client, run.id, keyset.get("description")) or "",
                )
            )
    return found


def answer_for(run: PausedRun, approve: bool, approver: str, reason: str, workspace_name: str, decisions: dict[str, str]) -> dict[str, Any]:
    """The run_input for a paused run's form (flows.forms reads the form and checks the answer)."""
    try:
        return forms.run_input(run.fields, approve, approver, reason, workspace_name, decisions)
    except InvalidInput as err:
        raise InvalidInput(f"Run {run.id}: {err}") from err


def approval_guard(run_id: str) -> tuple[list[str] | None, str | None]:
    """Who may answer this run (the variable's list for its deployment, None: anyone) and who started it, when known."""
    from prefect.variables import Variable

    with get_client(sync_client=True) as client:
        run = client.read_flow_run(UUID(run_id))
        flow = client.read_flow(run.flow_id).name
        deployment = client.read_deployment(run.deployment_id).name if run.deployment_id else None
    allowed = approver_rules.approvers_for(Variable.get(approver_rules.VARIABLE, default=None), flow, deployment)
    created = run.created_by
    starter = approver_rules.starter_of(created.type if created else None, created.display_value if created else None, list(run.tags or []))
    return allowed, starter


def answer(run_id: str, approve: bool, approver: str, reason: str, workspace_name: str = "", decisions: dict[str, str] | None = None) -> None:
    runs = {r.id: r for r in list_paused()}
    run = runs.get(run_id)
    if run is None:
        raise InvalidInput(f"Flow run {run_id} is not paused waiting for a person. Waiting: {sorted(runs) or 'none'} (see `amlops pending`).")
    with busy_server_retries():
        refused = approver_rules.approver_problems(approver, *approval_guard(run_id)) if approver.strip() else []
        if refused:  # the run would refuse it and ask again: say so here, before anything is sent
            raise InvalidInput(f"Run {run_id} does not take this answer: {'; '.join(refused)}.")
        run_input = answer_for(run, approve, approver, reason, workspace_name, decisions or {})
        key = _response_key(UUID(run_id))
        try:
            resume_flow_run(UUID(run_id), run_input=run_input)
        except Exception:
            # The client resends a resume whose answer it lost; the server, which took the first, then refuses the
            # second (the run is no longer paused, its input exists). Whether this answer was taken is on the server.
            if not _answered_with(UUID(run_id), key, run_input):
                raise


def _response_key(run_id: UUID) -> str | None:
    """The key under which the paused run will keep the answer it is given."""
    with get_client(sync_client=True) as client:
        state = client.read_flow_run(run_id).state
    return ((state.state_details.run_input_keyset or {}).get("response") if state else None) or None


def _answered_with(run_id: UUID, key: str | None, run_input: dict[str, Any]) -> bool:
    if not key:
        return False
    with get_client(sync_client=True) as client:
        try:
            return bool(json.loads(client.read_flow_run_input(run_id, key)) == run_input)
        except httpx.HTTPStatusError as err:
            if err.response.status_code == 404:
                return False
            raise
