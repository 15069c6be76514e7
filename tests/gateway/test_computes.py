"""Computes through the gateway: exact snapshot and re-creation, delete/detach, power, idle shutdown."""

from __future__ import annotations

import pytest

from amlops.azure import computes, resources
from amlops.azure.clients import Clients, Target
from amlops.errors import Conflict, InvalidInput, NotFound, TransientError
from amlops.models import ResourceId
from tests.conftest import SUB, Env

AKS = f"/subscriptions/{SUB}/resourceGroups/ml-prod/providers/Microsoft.ContainerService/managedClusters/inference-aks"


def test_snapshot_carries_every_setting(demo: Env, ws: ResourceId) -> None:
    alice = computes.get_compute(demo.clients, ws, "alice-ci")
    assert alice.vm_size == "STANDARD_DS3_V2" and alice.idle_time_before_shutdown == "PT60M"
    assert [s["action"] for s in alice.schedules] == ["Stop", "Start"]
    assert alice.ssh_public_access == "Disabled" and alice.ssh_admin_user == "azureuser"
    assert alice.assigned_user == {"objectId": "aaaaaaaa-0000-0000-0000-000000000001", "tenantId": "72f988bf-86f1-41af-91ab-2d7cd011db47"}
    assert alice.setup_scripts and alice.setup_scripts["scripts"]["creationScript"]["scriptData"] == "Users/alice/setup.sh"
    assert "state" not in alice.create_properties["properties"], "read-only state is never sent back"
    cluster = computes.get_compute(demo.clients, ws, "gpu-cluster")
    assert (cluster.tier, cluster.min_nodes, cluster.max_nodes, cluster.identity) == ("LowPriority", 0, 4, {"type": "SystemAssigned"})


def test_delete_then_recreate_gives_the_same_settings(demo: Env, ws: ResourceId) -> None:
    before = {c.name: c for c in computes.list_computes(demo.clients, ws)}
    for spec in before.values():
        computes.delete_compute(demo.clients, ws, spec.name, "Detach" if spec.name == "aks-attached" else "Delete")
    assert computes.list_computes(demo.clients, ws) == []
    for spec in before.values():
        computes.create_compute(demo.clients, ws, spec, "westeurope")
    after = {c.name: c for c in computes.list_computes(demo.clients, ws)}
    assert {n: c.settings() for n, c in after.items()} == {n: c.settings() for n, c in before.items()}


def test_detach_keeps_the_cluster_delete_removes_it(demo: Env, ws: ResourceId) -> None:
    aks = computes.get_compute(demo.clients, ws, "aks-attached")
    computes.delete_compute(demo.clients, ws, aks.name, "Detach")
    with pytest.raises(NotFound):
        computes.get_compute(demo.clients, ws, "aks-attached")
    assert resources.exists(demo.clients, AKS, "2024-01-01"), "detach leaves the Kubernetes cluster in place"


def test_stop_start_restart_and_conflicts(demo: Env, ws: ResourceId) -> None:
    computes.stop_compute(demo.clients, ws, "alice-ci")
    assert computes.get_compute(demo.clients, ws, "alice-ci").state == "Stopped"
    with pytest.raises(Conflict, match="only allowed in Running state"):
        computes.stop_compute(demo.clients, ws, "alice-ci")
    computes.start_compute(demo.clients, ws, "alice-ci")
    computes.restart_compute(demo.clients, ws, "alice-ci")
    assert computes.get_compute(demo.clients, ws, "alice-ci").state == "Running"
    with pytest.raises(InvalidInput, match="compute instances only"):
        computes.stop_compute(demo.clients, ws, "gpu-cluster")


def test_transitional_state_is_visible_while_an_operation_runs(demo: Env, ws: ResourceId) -> None:
    demo.control.settings(lro={"default": {"mode": "immediate"}, "compute.stop": {"mode": "seconds", "seconds": 30}})
    reader = demo.fresh_clients()
    seen: list[str | None] = []

    def sleep(seconds: float) -> None:  # while the poller waits, someone else looks at the instance
        seen.append(computes.get_compute(reader, ws, "alice-ci").state)
        demo.sleeps.append(seconds)
        demo.control.advance(seconds)

    stopper = Clients(Target("emulator", demo.emulator.base_url, str(demo.emulator.ca_file)), sleep=sleep)
    computes.stop_compute(stopper, ws, "alice-ci")  # no Retry-After (as Azure): the client's own schedule, in emulator time
    assert seen and set(seen) == {"Stopping"}, f"while the stop ran, readers saw {seen}"
    assert computes.get_compute(demo.clients, ws, "alice-ci").state == "Stopped"
    assert sum(demo.sleeps) >= 29 and len(demo.sleeps) <= 7, "the client waited out the operation instead of polling hot"


def test_idle_shutdown_range_is_enforced(demo: Env, ws: ResourceId) -> None:
    computes.update_idle_shutdown(demo.clients, ws, "alice-ci", "PT2H")
    assert computes.get_compute(demo.clients, ws, "alice-ci").idle_time_before_shutdown == "PT2H"
    with pytest.raises(InvalidInput, match="15 minutes to 3 days"):
        computes.update_idle_shutdown(demo.clients, ws, "alice-ci", "PT5M")


def test_unknown_compute_is_not_found(demo: Env, ws: ResourceId) -> None:
    with pytest.raises(NotFound, match="ghost"):
        computes.get_compute(demo.clients, ws, "ghost")


def test_paging_follows_next_link(demo: Env, ws: ResourceId) -> None:
    demo.control.settings(page_size=1)
    assert len(computes.list_computes(demo.clients, ws)) == 4
    assert sum(1 for r in demo.control.requests() if r["path"].endswith("/computes")) == 4


def test_failed_create_lro_surfaces_and_marks_the_compute_failed(demo: Env, ws: ResourceId) -> None:
    spec = computes.get_compute(demo.clients, ws, "bob-ci").model_copy(update={"name": "carol-ci"})
    demo.control.fault("/computes/carol-ci$", "lro_failed", method="PUT", count=1)
    with pytest.raises(TransientError, match="failed") as err:  # InternalServerError: Azure's own trouble, worth another try
        computes.create_compute(demo.clients, ws, spec, "westeurope")
    assert err.value.code == "InternalServerError"
    assert computes.get_compute(demo.clients, ws, "carol-ci").provisioning_state == "Failed"
