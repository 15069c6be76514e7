"""The verification of a move: each item of the approved plan checked against the moved workspace as Azure shows it,
one check per item kind, one line of the report per item. Pure: the flow reads the moved workspace and calls verify.

Azure answers some fields in its own spelling of what the client sent. Azure's recorded sessions
(Azure/azure-sdk-assets, python/sdk/ml/azure-ai-ml/tests/recordings: compute cluster create, batch endpoint,
online endpoint end to end; issue 18's table) show a cluster created with vmSize `Standard_DS2_v2` answered as
`STANDARD_DS2_V2`, a batch endpoint created with auth mode `aad_token` answered as `AADToken`, and an online endpoint
given `kind: Managed` though the client sent none. So sizes compare without case, auth modes through
AUTH_MODES, and an endpoint kind of None means Managed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from amlops.models import Model, OnlineEndpoint, deployment_names, same_id
from amlops.move.facts import Inventory, power_state
from amlops.move.manifest import MoveManifest
from amlops.move.plan import BatchDeploymentItem, ComputeItem, ConnectionItem, DatastoreItem, EndpointItem, GrantItem, ScheduleItem

# Azure's spelling of each auth mode, whatever the client sent (azure-ai-ml's snake case, or Azure's own).
AUTH_MODES = {"key": "Key", "aml_token": "AMLToken", "amltoken": "AMLToken", "aad_token": "AADToken", "aadtoken": "AADToken"}


def auth_mode(value: str) -> str:
    return AUTH_MODES.get(value.lower(), value)


def endpoint_kind(value: str | None) -> str:
    return (value or "Managed").lower()


def compute_settings(settings: dict[str, Any]) -> dict[str, Any]:
    """A compute's settings as Azure means them: the VM size without case."""
    return settings | {"vm_size": (settings.get("vm_size") or "").lower() or None}


class Check(Model):
    """One line of the verification report."""

    kind: str
    name: str
    expected: str
    actual: str
    ok: bool
    action: str = ""


def _compute(item: ComputeItem, m: MoveManifest, observed: Inventory) -> Check:
    want = item.spec
    name = m.renamed_computes.get(want.name, want.name)
    have = next((c for c in observed.computes if c.name == name), None)
    renamed = f" (re-created as '{name}': Azure's Etag conflict on the old name persisted)" if name != want.name else ""
    if have is None:
        action = f"re-create compute '{want.name}' from manifest {m.move_id}" + (
            " (recreate_compute was off)" if item.action.startswith("leave") else ""
        )
        return Check(kind="compute", name=want.name, expected=want.compute_type, actual="missing", ok=False, action=action)
    problems = []
    if have.provisioning_state != "Succeeded":
        problems.append(f"provisioning {have.provisioning_state or 'unknown'}")
    wanted, found = compute_settings(want.settings()), compute_settings(have.settings())
    diff = sorted(k for k, v in wanted.items() if found.get(k) != v and k != "name")  # a rename is reported on its own
    if diff:
        problems.append(f"differs in {', '.join(diff)}")
    if item.power_state and item.power_state != power_state(have.state):
        problems.append(f"{power_state(have.state)} (was {item.power_state} before the move)")
    expected = f"{want.compute_type}, Succeeded, same settings" + (f", {item.power_state}" if item.power_state else "")
    ok = not problems and not renamed
    actual = ("; ".join(problems) or "as expected") + renamed
    action = (
        "" if ok else f"compute '{name}': " + ("; ".join(problems) or "update what refers to the old name") + f" (manifest {m.move_id})"
    )
    return Check(kind="compute", name=want.name, expected=expected, actual=actual, ok=ok, action=action)


def endpoint_as_planned(want: OnlineEndpoint, have: OnlineEndpoint | None) -> bool:
    """An online endpoint is as planned: the same name, deployments, traffic, mirror traffic, auth mode and kind (in
    Azure's spelling). The verification's check, and how a rebuild tells one it need not redeploy."""
    return (
        have is not None
        and have.name == want.name
        and deployment_names(have) == deployment_names(want)
        and have.traffic == want.traffic
        and have.mirror_traffic == want.mirror_traffic
        and auth_mode(have.auth_mode) == auth_mode(want.auth_mode)
        and endpoint_kind(have.kind) == endpoint_kind(want.kind)
    )


def _endpoint_words(e: OnlineEndpoint) -> str:
    mirror = f", mirror traffic {e.mirror_traffic}" if e.mirror_traffic else ""
    return f"deployments {deployment_names(e)}, traffic {e.traffic}{mirror}, auth {auth_mode(e.auth_mode)}"


def _endpoint(item: EndpointItem, m: MoveManifest, observed: Inventory) -> Check:
    want = item.endpoint
    have = next((e for e in observed.online_endpoints if e.name == item.name), None)
    same = endpoint_as_planned(want, have)
    action = (
        ""
        if same
        else f"redeploy online endpoint '{item.name}' from manifest {m.move_id}"
        + (" (redeploy_endpoints was off)" if item.action != "redeploy" else "")
    )
    return Check(
        kind="online endpoint",
        name=item.name,
        expected=_endpoint_words(want),
        actual="missing" if have is None else _endpoint_words(have),
        ok=same,
        action=action,
    )


def _datastore(item: DatastoreItem, m: MoveManifest, observed: Inventory) -> Check:
    want, target = item.before, m.request.target_id
    have = next((d for d in observed.datastores if d.name == item.name), None)
    actual = "missing" if have is None else f"points at {have.subscription_id}/{have.resource_group}, {have.credentials_type} credentials"
    if item.action == "re-point":
        expected = f"points at {target.subscription}/{target.resource_group}, {want.credentials_type} credentials"
        ok = (
            have is not None
            and have.points_at(target.subscription, target.resource_group)
            and have.credentials_type == want.credentials_type
        )
    elif item.action == "keep as it is":  # not ours to touch: every field as it was
        expected = "exactly as before the move"
        ok = have is not None and have.model_dump() == want.model_dump()
        if have is not None and not ok:
            before, after = want.model_dump(), have.model_dump()
            actual = "changed: " + ", ".join(sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k)))
    else:  # a default datastore: Azure re-points it with the workspace
        expected = f"registered, {want.credentials_type} credentials"
        ok = have is not None and have.credentials_type == want.credentials_type
    return Check(
        kind="datastore",
        name=item.name,
        expected=expected,
        actual=actual,
        ok=ok,
        action="" if ok else f"re-register datastore '{item.name}' as it was ({item.action}, manifest {m.move_id})",
    )


def _grant(item: GrantItem, m: MoveManifest, observed: Inventory) -> Check:
    want = item.grant
    replaced = {k.lower(): v for k, v in m.replaced_principals.items()}
    if item.action == "give to the re-created identity" and want.principal_id.lower() in replaced:
        want = want.model_copy(update={"principal_id": replaced[want.principal_id.lower()]})
    name = f"{want.principal_type} {want.principal_id}"
    role = want.role_definition_id.rsplit("/", 1)[-1]
    expected = f"role {role} at {want.scope}"
    if item.action == "skip":
        return Check(kind="role assignment", name=name, expected="not re-created", actual=f"skipped: {item.reason}", ok=True)
    if want.principal_id.lower() in {p.lower() for p in m.gone_principals}:
        return Check(
            kind="role assignment",
            name=name,
            expected=expected,
            actual="skipped: the principal no longer exists in the directory (PrincipalNotFound)",
            ok=True,
        )
    ok = want.key() in {a.key() for a in observed.role_assignments}
    return Check(
        kind="role assignment",
        name=name,
        expected=expected,
        actual="present" if ok else "missing",
        ok=ok,
        action="" if ok else f"grant role {role} to {want.principal_id} at {want.scope}",
    )


def _connection(item: ConnectionItem, m: MoveManifest, observed: Inventory) -> Check:
    """Approved again if it was Approved before, as it was otherwise, or whatever a person decided during the move."""
    endpoint = item.private_endpoint_id
    decision = next(
        (
            d
            for d in m.decisions
            if same_id(d.private_endpoint_id, endpoint) and d.via == "person" and d.outcome in ("Approved", "Rejected")
        ),
        None,
    )
    live = [c for c in observed.private_endpoint_connections if same_id(c.private_endpoint_id, endpoint) and c.status != "Disconnected"]
    status = live[-1].status if live else "missing"
    name = endpoint.rsplit("/", 1)[-1]
    if decision is not None and status == decision.outcome:
        actual = f"{status} by {decision.decided_by} (a person's decision: {decision.reason or 'no reason given'})"
        return Check(kind="private endpoint", name=name, expected=f"{item.was}, or a person's decision", actual=actual, ok=True)
    ok = status == item.was
    action = "" if ok else f"decide the connection of {endpoint} (it was {item.was} before the move): amlops approve"
    return Check(kind="private endpoint", name=name, expected=item.was, actual=status, ok=ok, action=action)


def _schedule(item: ScheduleItem, m: MoveManifest, observed: Inventory) -> Check:
    def words(enabled: bool) -> str:
        return "enabled" if enabled else "disabled"

    if item.name in observed.job_schedules:
        actual = "enabled"
    elif item.name in observed.disabled_job_schedules:
        actual = "disabled"
    else:
        actual = "missing"
    ok = actual == words(item.enabled)
    return Check(
        kind="job schedule",
        name=item.name,
        expected=words(item.enabled),
        actual=actual,
        ok=ok,
        action=""
        if ok
        else f"{'enable' if item.enabled else 'disable'} job schedule '{item.name}' (az ml schedule {'enable' if item.enabled else 'disable'})",
    )


def _batch(item: BatchDeploymentItem, m: MoveManifest, observed: Inventory) -> Check:
    endpoint = next((b for b in observed.batch_endpoints if b.name == item.endpoint), None)
    have = next((d for d in endpoint.deployments if d.name == item.deployment.name), None) if endpoint else None
    ok = (
        endpoint is not None
        and have is not None
        and have.properties == item.deployment.properties
        and auth_mode(endpoint.auth_mode) == auth_mode(item.auth_mode)
    )
    actual = (
        "missing"
        if have is None or endpoint is None
        else (
            "as expected"
            if ok
            else f"auth {auth_mode(endpoint.auth_mode)}; ids {'re-pointed' if have.properties == item.deployment.properties else 'still naming the source'}"
        )
    )
    return Check(
        kind="batch deployment",
        name=item.name,
        expected=f"ids naming the moved workspace, auth {auth_mode(item.auth_mode)}",
        actual=actual,
        ok=ok,
        action="" if ok else f"PUT batch deployment {item.name} again (manifest {m.move_id})",
    )


Item = ComputeItem | EndpointItem | DatastoreItem | GrantItem | ConnectionItem | ScheduleItem | BatchDeploymentItem
CHECKS: dict[type, Callable[[Any, MoveManifest, Inventory], Check]] = {
    ComputeItem: _compute,
    EndpointItem: _endpoint,
    DatastoreItem: _datastore,
    GrantItem: _grant,
    ConnectionItem: _connection,
    ScheduleItem: _schedule,
    BatchDeploymentItem: _batch,
}


def check(item: Item, manifest: MoveManifest, observed: Inventory) -> Check:
    """One item of the plan against the moved workspace."""
    return CHECKS[type(item)](item, manifest, observed)


def _assets(manifest: MoveManifest, observed: Inventory) -> list[Check]:
    checks = []
    for kind, names in manifest.inventory.assets.items():
        missing = sorted(set(names) - set(observed.assets.get(kind, [])))
        checks.append(
            Check(
                kind=kind,
                name=f"{len(names)} {kind}",
                expected="all listed",
                actual="all listed" if not missing else f"missing {missing}",
                ok=not missing,
                action="" if not missing else f"open a support case: {kind} {missing} did not move",
            )
        )
    return checks


def verify(manifest: MoveManifest, observed: Inventory) -> list[Check]:
    """The moved workspace against the approved plan, item by item."""
    plan, target = manifest.plan, str(manifest.request.target_id)
    checks = [
        Check(
            kind="workspace",
            name=observed.workspace.name,
            expected=target,
            actual=observed.workspace.id,
            ok=same_id(observed.workspace.id, target),
        )
    ]
    items: list[Item] = [
        *plan.computes,
        *plan.online_endpoints,
        *plan.datastores,
        *plan.grants,
        *plan.connections,
        *plan.schedules,
        *plan.batch_deployments,
    ]
    return checks + [check(i, manifest, observed) for i in items] + _assets(manifest, observed)


def checks_markdown(checks: list[Check]) -> str:
    rows = ["| | kind | name | expected | actual | action for a person |", "|---|---|---|---|---|---|"]
    rows += [f"| {'ok' if c.ok else 'MISMATCH'} | {c.kind} | {c.name} | {c.expected} | {c.actual} | {c.action} |" for c in checks]
    return "\n".join(rows)
