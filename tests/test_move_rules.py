"""The move's pure decisions, without Azure or Prefect: the move in flight, the quiesce gate, the plan's
private endpoints, per-item progress, and a verification that reads provisioning and power state."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from amlops.approvals import Decision
from amlops.models import ComputeSpec, Job, PrivateEndpointConnection, Workspace
from amlops.move import (
    Inventory,
    Location,
    MoveManifest,
    MoveRequest,
    OperationEnd,
    Step,
    after_move_sent,
    build_plan,
    power_state,
    quiesce_problems,
    verify,
)

SUB, TARGET_SUB = "11111111-1111-1111-1111-111111111111", "22222222-2222-2222-2222-222222222222"
WS = f"/subscriptions/{SUB}/resourceGroups/ml-prod/providers/Microsoft.MachineLearningServices/workspaces/ml-prod-ws"
MOVED = WS.replace(SUB, TARGET_SUB).replace("/ml-prod/", "/ml-moved/")
PE = "/subscriptions/{}/resourceGroups/net/providers/Microsoft.Network/privateEndpoints/{}"
SCHEDULE: dict[str, object] = {"status": "Enabled", "action": "Stop", "triggerType": "Cron", "cron": {"expression": "0 19 * * 1-5", "timeZone": "UTC"}}


def _workspace(rid: str) -> Workspace:
    return Workspace(id=rid, name="ml-prod-ws", location="westeurope", subscription=rid.split("/")[2], resource_group=rid.split("/")[4])


def _instance(state: str, provisioning: str = "Succeeded", schedules: list[dict[str, object]] | None = None) -> ComputeSpec:
    return ComputeSpec(name="bob-ci", compute_type="ComputeInstance", state=state, provisioning_state=provisioning, vm_size="STANDARD_E4S_V3", schedules=schedules or [SCHEDULE])


def _connection(name: str, endpoint: str, status: str) -> PrivateEndpointConnection:
    return PrivateEndpointConnection(name=name, id=f"{WS}/privateEndpointConnections/{name}", private_endpoint_id=PE.format(SUB, endpoint), status=status)


def _manifest(computes: Sequence[ComputeSpec] = (), connections: Sequence[PrivateEndpointConnection] = (), decisions: Sequence[Decision] = ()) -> MoveManifest:
    request = MoveRequest(source=WS, target_subscription=TARGET_SUB, target_resource_group="ml-moved")
    inventory = Inventory(workspace=_workspace(WS), computes=list(computes), private_endpoint_connections=list(connections))
    return MoveManifest(move_id=request.move_id, request=request, inventory=inventory, plan=build_plan(request, inventory), decisions=list(decisions))


def _observed(computes: Sequence[ComputeSpec] = (), connections: Sequence[PrivateEndpointConnection] = ()) -> Inventory:
    return Inventory(workspace=_workspace(MOVED), computes=list(computes), private_endpoint_connections=list(connections))


# -- the move in flight


@pytest.mark.parametrize(
    ("location", "operation", "action"),
    [
        ("target", "succeeded", "rebuild"),
        ("target", "unknown", "rebuild"),  # killed before Azure's answer was read: it moved all the same
        ("target", "failed", "rebuild"),
        ("source", "failed", "restore"),  # Azure said it failed and the workspace is home: undo the teardown
        ("source", "unknown", "resend"),  # never accepted, or a move still running (ARM refuses the second while locked)
        ("source", "succeeded", "stop"),  # contradictory: a person looks
        ("missing", "unknown", "stop"),
        ("missing", "failed", "stop"),
    ],
)
def test_a_move_in_flight_is_decided_by_where_the_workspace_is(location: Location, operation: OperationEnd, action: str) -> None:
    assert after_move_sent(location, operation) == action


def test_a_restore_forgets_the_attempt_but_keeps_the_snapshot() -> None:
    m = _manifest([_instance("Stopped")]).with_step(Step.SNAPSHOT).with_step(Step.QUIESCE).with_item(Step.DELETE_COMPUTE, "bob-ci")
    m = m.model_copy(update={"move_sent": True, "move_operation": "token"}).restarted()
    assert (m.status, m.steps_done, m.items_done, m.move_sent, m.move_operation) == ("restored", [Step.SNAPSHOT], {}, False, "")
    assert m.inventory.computes[0].name == "bob-ci"


def test_items_are_recorded_one_by_one_and_survive_a_round_trip() -> None:
    m = _manifest().with_item(Step.RECREATE_COMPUTE, "alice-ci").with_item(Step.RECREATE_COMPUTE, "alice-ci")
    again = MoveManifest.model_validate_json(m.model_dump_json())
    assert again.item_done(Step.RECREATE_COMPUTE, "alice-ci") and not again.item_done(Step.RECREATE_COMPUTE, "bob-ci")
    assert again.items_done == {Step.RECREATE_COMPUTE: ["alice-ci"]} and not again.done(Step.RECREATE_COMPUTE)


# -- the quiesce gate fails closed


@pytest.mark.parametrize("status", ["NotResponding", "Paused", "Queued", "Unknown", "SomethingAzureAddsLater"])
def test_every_job_state_but_the_three_ends_is_active(status: str) -> None:
    job = Job(name="j", status=status)
    assert job.active
    assert [p.code for p in quiesce_problems([job], {}, 60, False)] == ["ActiveJobs"]


@pytest.mark.parametrize("status", ["Completed", "Failed", "Canceled"])
def test_ended_jobs_are_not_active(status: str) -> None:
    assert not Job(name="j", status=status).active


def test_no_metric_data_refuses_unless_overridden_and_zero_does_not() -> None:
    refused = quiesce_problems([], {"forecast-api": None, "quiet": 0}, 60, False)
    assert [(p.code, "--allow-missing-metrics" in p.fix) for p in refused] == [("EndpointMetricsMissing", True)]
    assert quiesce_problems([], {"forecast-api": None}, 60, True) == []
    assert [p.code for p in quiesce_problems([], {"busy": 3}, 60, True)] == ["EndpointTraffic"]


# -- private endpoints in the plan


def test_the_plan_lists_connections_that_wait_for_a_person() -> None:
    m = _manifest(connections=[_connection("a", "pe-a", "Approved"), _connection("r", "pe-r", "Rejected"), _connection("p", "pe-p", "Pending")])
    plan = build_plan(m.request, m.inventory)
    assert plan.approvable_endpoints() == {PE.format(SUB, "pe-a").lower()}
    assert [(c.private_endpoint_id, c.action) for c in plan.connections] == [
        (PE.format(SUB, "pe-a"), "approve by rule"), (PE.format(SUB, "pe-r"), "keep rejected"), (PE.format(SUB, "pe-p"), "wait for a person"),
    ]  # fmt: skip


# -- verification reads Azure's state, not our records


def test_a_compute_that_failed_to_build_is_not_a_match() -> None:
    checks = verify(_manifest([_instance("Stopped")]), _observed([_instance("Stopped", provisioning="Failed")]))
    compute = next(c for c in checks if c.kind == "compute")
    assert not compute.ok and "provisioning Failed" in compute.actual


def test_a_stopped_instance_must_come_back_stopped() -> None:
    checks = verify(_manifest([_instance("Stopped")]), _observed([_instance("Running")]))
    compute = next(c for c in checks if c.kind == "compute")
    assert not compute.ok and "Running (was Stopped before the move)" in compute.actual
    assert next(c for c in verify(_manifest([_instance("Stopped")]), _observed([_instance("Stopped")])) if c.kind == "compute").ok


def test_fields_azure_adds_to_schedules_are_not_differences() -> None:
    returned: list[dict[str, object]] = [{**SCHEDULE, "id": "3f9c...", "provisioningStatus": "Completed"}]
    checks = verify(_manifest([_instance("Running")]), _observed([_instance("Running", schedules=returned)]))
    assert next(c for c in checks if c.kind == "compute").ok


def test_power_state_reads_transitions_as_where_they_head() -> None:
    assert [power_state(s) for s in ("Running", "Starting", "JobRunning", "Stopping", "Stopped", None)] == ["Running", "Running", "Running", "Stopped", "Stopped", None]


def test_a_persons_rejection_is_a_decision_and_a_previously_rejected_connection_waits_for_one() -> None:
    before = [_connection("a", "pe-a", "Approved"), _connection("r", "pe-r", "Rejected")]
    rejected = Decision(connection="a-1", private_endpoint_id=PE.format(SUB, "pe-a"), verdict="reject", decided_by="carol", reason="decommissioned", via="person", outcome="Rejected")
    after = [_connection("a-1", "pe-a", "Rejected"), _connection("r-1", "pe-r", "Pending")]
    checks = {c.name: c for c in verify(_manifest(connections=before, decisions=[rejected]), _observed(connections=after)) if c.kind == "private endpoint"}
    assert checks["pe-a"].ok and "carol" in checks["pe-a"].actual
    assert not checks["pe-r"].ok and "was Rejected before the move" in checks["pe-r"].action
