"""The moved workspace's private endpoint connections that a rule decides are approved while the rebuild runs:
they depend only on the workspace having moved, and every minute they wait is a minute its private network is cut."""

from __future__ import annotations

from amlops.approvals import AllowList
from amlops.azure import network
from amlops.emulator.throttle import kind_of
from amlops.manifests import open_store
from amlops.models import ResourceId
from flows.move_workspace import MoveReport, move_workspace
from tests.conftest import SUB, TARGET_SUB, WS_ID, Env
from tests.flows.conftest import move_args

TARGET = ResourceId.parse(WS_ID).moved_to(TARGET_SUB, "ml-moved")


def test_connections_are_approved_before_the_rebuild_ends_and_verified_after_it(flows_env: Env) -> None:
    flows_env.load_demo()
    # Compute instances take a few seconds to create (Azure: minutes): the rebuild outlasts the approvals by far.
    flows_env.control.settings(lro={"default": {"mode": "immediate"}, "compute.create.instance": {"mode": "seconds", "seconds": 3}})
    state = move_workspace(**move_args(private_endpoint_allow_list=AllowList(subscriptions=[SUB])), return_state=True)
    report = state.result(raise_on_failure=False)
    assert state.is_completed() and isinstance(report, MoveReport), report

    log = flows_env.control.requests()
    moved = max(i for i, r in enumerate(log) if r["method"] == "POST" and r["path"].lower().endswith("/moveresources"))
    after = [(i, r) for i, r in enumerate(log) if i > moved and kind_of(r["method"], r["path"]) != "reads" and r["status"] < 400]
    approvals = [i for i, r in after if "/privateendpointconnections/" in r["path"].lower()]
    rebuild = [i for i, r in after if "/privateendpointconnections/" not in r["path"].lower()]
    assert len(approvals) == 2 and rebuild, [r["path"] for _, r in after]
    assert max(approvals) < max(rebuild), "both connections were approved before the rebuild's last write, not after the whole rebuild"
    assert any("/computes/" in log[i]["path"].lower() for i in rebuild if i > max(approvals)), "compute was still being rebuilt after the approvals"

    assert report.status == "completed" and all(c.ok for c in report.checks), "verified as before, once everything is back"
    assert {c.status for c in network.list_connections(flows_env.clients, TARGET) if c.status != "Disconnected"} == {"Approved"}
    manifest = open_store().load(report.move_id)
    assert manifest is not None and sorted(d.via for d in manifest.decisions) == ["allow-list", "policy"], "each decision recorded once, by what made it"
