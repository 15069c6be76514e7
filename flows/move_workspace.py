"""move-workspace: Azure's documented workspace move, automated, approved, resumable and verified.

preflight -> plan -> approval -> manifest (persisted before anything is deleted) -> quiesce ->
delete/detach compute and endpoints -> validate -> move -> recreate compute -> redeploy endpoints ->
re-point datastores -> re-create role assignments -> approve private endpoints -> verify.

Every step is recorded in the manifest as it completes; a run started again with the same
parameters resumes after the last completed step. A failure before the move restores the
deleted compute and endpoints in the source.
"""

from __future__ import annotations

from typing import Any, Literal

from prefect import flow, get_run_logger, unmapped
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.context import FlowRunContext
from prefect.futures import wait
from prefect.task_runners import ThreadPoolTaskRunner
from pydantic import BaseModel

from amlops.approvals import AllowList
from amlops.azure.clients import POOL_SIZE
from amlops.azure.errors import AmlopsError, InvalidInput, NotFound, PreflightFailed
from amlops.manifests import ManifestStore
from amlops.move import (
    Check,
    Inventory,
    MoveManifest,
    MovePlan,
    MoveRequest,
    Problem,
    build_plan,
    checks_markdown,
    datastores_to_repoint,
    plan_markdown,
    resources_to_move,
    verify,
)
from flows import approvals
from tasks import move as t


class MoveReport(BaseModel):
    """What a move run did; returned by the flow and printed by the CLI."""

    move_id: str
    status: Literal["planned", "completed", "incomplete", "restored"]
    source: str
    target: str
    plan: MovePlan | None = None
    checks: list[Check] = []
    notes: list[str] = []


def _refuse(problems: list[Problem], what: str) -> None:
    if problems:
        create_table_artifact(key="move-refused", table=[p.model_dump() for p in problems], description=f"Move refused: {what}")
        lines = "\n".join(f"- [{p.code}] {p.message} Fix: {p.fix}" for p in problems)
        raise PreflightFailed(f"The move was refused ({what}); nothing was changed:\n{lines}", code="PreflightFailed", details=[p.model_dump() for p in problems])


def _run_id() -> str:
    context = FlowRunContext.get()
    return str(context.flow_run.id) if context and context.flow_run else "local"


@flow(name="move-workspace", task_runner=ThreadPoolTaskRunner(max_workers=POOL_SIZE), log_prints=True)
def move_workspace(
    source: str,
    target_subscription: str,
    target_resource_group: str,
    include_associated: bool = True,
    dry_run: bool = False,
    require_approval: bool = True,
    private_endpoint_allow_list: AllowList | None = None,
    quiesce_window_minutes: int = 60,
    recreate_compute: bool = True,
    redeploy_endpoints: bool = True,
    etag_conflict_policy: Literal["report", "rename"] = "report",
    approve_plan_as: str | None = None,
    confirm_workspace: str | None = None,
    approve_private_endpoints_as: str | None = None,
    approval_timeout_seconds: int = 3600,
    approval_poll_seconds: int = 10,
) -> MoveReport:
    logger = get_run_logger()
    request = MoveRequest(
        source=source,
        target_subscription=target_subscription,
        target_resource_group=target_resource_group,
        include_associated=include_associated,
        recreate_compute=recreate_compute,
        redeploy_endpoints=redeploy_endpoints,
        quiesce_window_minutes=quiesce_window_minutes,
        private_endpoint_allow_list=private_endpoint_allow_list or AllowList(),
        etag_conflict_policy=etag_conflict_policy,
    ).validated()
    if request.source_id.group_id.lower() == request.target_group_id.lower():
        raise InvalidInput(f"The target resource group is the workspace's own ({request.target_group_id}); name another resource group or subscription.")
    store = ManifestStore()
    manifest = store.load(request.move_id)
    run_id = _run_id()

    if manifest is None:
        plan, manifest = _prepare(request, dry_run, require_approval, approve_plan_as, confirm_workspace, approval_timeout_seconds, approval_poll_seconds)
        if manifest is None:
            return MoveReport(move_id=request.move_id, status="planned", source=request.source, target=str(request.target_id), plan=plan, notes=["dry run: nothing was changed"])
        store.acquire(request.source, request.move_id, run_id)
        store.save(manifest)
        logger.info("Manifest %s saved to %s before anything is deleted", manifest.move_id, store.path(manifest.move_id))
    else:
        if manifest.status == "completed":
            logger.info("Move %s already completed; verifying again", manifest.move_id)
        elif dry_run:
            return MoveReport(move_id=manifest.move_id, status="planned", source=request.source, target=str(request.target_id), plan=build_plan(manifest.request, manifest.inventory), notes=[f"a move is under way; done so far: {manifest.steps_done}"])
        store.acquire(request.source, request.move_id, run_id)
        logger.info("Resuming move %s after steps %s", manifest.move_id, manifest.steps_done)
    try:
        return _execute(store, manifest, run_id, approve_private_endpoints_as, approval_timeout_seconds, approval_poll_seconds)
    finally:
        store.release(request.source, run_id)


def _prepare(
    request: MoveRequest, dry_run: bool, require_approval: bool, approve_as: str | None, confirm: str | None, timeout: int, poll: int
) -> tuple[MovePlan, MoveManifest | None]:
    """Preflight, plan and approval: reads only. Returns the manifest to persist, or None for a dry run."""
    logger = get_run_logger()
    try:
        inventory: Inventory = t.snapshot_workspace(request.source_id)
    except NotFound as err:
        raise InvalidInput(f"Workspace {request.source} does not exist; check the resource id (az ml workspace show).") from err
    _refuse(t.preflight_move(request, inventory), "preflight")
    _refuse(t.quiesce_check(request.source_id, [e.name for e in inventory.online_endpoints], request.quiesce_window_minutes), "the workspace is in use")
    plan = build_plan(request, inventory)
    markdown = plan_markdown(plan)
    create_markdown_artifact(key="move-plan", markdown=markdown, description=f"Plan of move {plan.move_id}")
    print(markdown)
    if dry_run:
        logger.info("Dry run: stopping after the plan; nothing was changed.")
        return plan, None
    approver, quiesced = "not required", True
    if require_approval:
        answer = approvals.approve_plan(markdown, inventory.workspace.name, timeout, poll, approve_as, confirm)
        approver = f"{answer.approver}: {answer.reason}"
        if approve_as is None:  # time passed while a person read the plan: read the workspace again
            quiesced = False  # and check the quiesce gate again after the manifest is saved
            fresh = t.snapshot_workspace(request.source_id)
            if build_plan(request, fresh) != plan:
                raise AmlopsError("The workspace changed while the plan waited for approval; run the move again to see the new plan.", code="PlanChanged")
            inventory = fresh
    manifest = MoveManifest(move_id=request.move_id, request=request, inventory=inventory, resources=resources_to_move(request, inventory.workspace), approved_by=approver)
    manifest = manifest.with_step("snapshot")
    return plan, manifest.with_step("quiesce") if quiesced else manifest


def _execute(store: ManifestStore, manifest: MoveManifest, run_id: str, approve_pe_as: str | None, timeout: int, poll: int) -> MoveReport:
    logger = get_run_logger()
    request, inv = manifest.request, manifest.inventory
    source, target = request.source_id, request.target_id
    location = inv.workspace.location

    def record(step: str, note: str = "") -> None:
        nonlocal manifest
        manifest = manifest.with_step(step)
        if note:
            manifest = manifest.model_copy(update={"notes": [*manifest.notes, note]})
        store.save(manifest)
        store.heartbeat(request.source, run_id)
        logger.info("Step %s done", step)

    before_move = not manifest.done("move")
    try:
        if not manifest.done("quiesce"):
            _refuse(t.quiesce_check(source, [e.name for e in inv.online_endpoints], request.quiesce_window_minutes), "the workspace is in use")
            record("quiesce")
        # Independent of each other: compute and endpoints go at the same time.
        deleting = {}
        if not manifest.done("delete_compute"):
            deleting["delete_compute"] = t.delete_compute.map(unmapped(source), inv.computes)
        if not manifest.done("delete_endpoints"):
            deleting["delete_endpoints"] = t.delete_online_endpoint.map(unmapped(source), [e.name for e in inv.online_endpoints])
        for step, futures in deleting.items():
            _results(futures)
            record(step)
        if not manifest.done("validate"):
            t.ensure_target_group(request, location)
            _refuse(t.quiesce_check(source, [], 0), "jobs started before the move")  # checked again right before the move
            t.validate_move(request, manifest.resources)
            record("validate")
        if not manifest.done("move"):
            t.move_resources(request, manifest.resources)
            record("move")
    except AmlopsError as err:
        if before_move and t.workspace_location(request) == "source":
            _restore(manifest)
            manifest = manifest.model_copy(update={"status": "restored", "steps_done": ["snapshot"]})
            store.save(manifest)
            create_markdown_artifact(key="move-restored", markdown=f"Move `{manifest.move_id}` stopped before the move and restored the source's compute and endpoints.\n\nReason: {err}")
        raise

    # After the move the rebuild steps are independent: run them together, record each as it ends.
    have = t.observe_rebuild(target)  # one read per kind, so a resumed run re-creates only what is missing
    rebuilding: dict[str, tuple[Any, str]] = {}
    if request.recreate_compute and not manifest.done("recreate_compute"):
        missing = [c for c in inv.computes if not have.has_compute(c.name)]
        rename = request.etag_conflict_policy == "rename"
        rebuilding["recreate_compute"] = (t.recreate_compute.map(unmapped(target), missing, unmapped(location), rename_on_conflict=unmapped(rename)), "compute")
    if request.redeploy_endpoints and not manifest.done("redeploy_endpoints"):
        missing_endpoints = [e for e in inv.online_endpoints if not have.has_endpoint(e)]
        rebuilding["redeploy_endpoints"] = (t.redeploy_online_endpoint.map(unmapped(target), missing_endpoints, unmapped(location)), "online endpoint")
    if not manifest.done("repoint_datastores"):
        wanted = {d.name for d in datastores_to_repoint(request, inv, manifest.resources)}
        stale = [d for d in have.datastores if d.name in wanted and not d.points_at(target.subscription, target.resource_group)]
        rebuilding["repoint_datastores"] = (t.repoint_datastore.map(unmapped(target), stale, unmapped(target.subscription), unmapped(target.resource_group)), "datastore")
    if not manifest.done("recreate_role_assignments"):
        rebuilding["recreate_role_assignments"] = (t.recreate_role_assignment.map(unmapped(str(target)), inv.role_assignments), "role assignment")
    problems: list[str] = []
    for step, (futures, kind) in rebuilding.items():
        problems += _results(futures, kind)
        if step == "recreate_compute":
            manifest = _with_renames(manifest, missing, futures)
        record(step)
    if not manifest.done("approve_private_endpoints"):
        before = {c.private_endpoint_id.lower() for c in inv.private_endpoint_connections if c.status == "Approved"}
        rest = (approve_pe_as, "approve") if approve_pe_as else None
        decisions = approvals.decide_private_endpoints(target, request.private_endpoint_allow_list, timeout, poll, rest, before)  # type: ignore[arg-type]
        manifest = manifest.model_copy(update={"decisions": [*manifest.decisions, *decisions]})
        record("approve_private_endpoints")

    observed = t.snapshot_workspace(target)
    checks = verify(manifest, observed)
    create_table_artifact(key="move-verification", table=[c.model_dump() for c in checks], description=f"Move {manifest.move_id}: moved workspace against the manifest")
    print(checks_markdown(checks))
    left = [c for c in checks if not c.ok]
    manifest = manifest.model_copy(update={"status": "completed" if not left else "incomplete"})
    record("verify")
    report = MoveReport(move_id=manifest.move_id, status=manifest.status, source=request.source, target=str(target), checks=checks, notes=problems + manifest.notes)  # type: ignore[arg-type]
    if left:
        todo = "\n".join(f"- {c.kind} {c.name}: {c.action}" for c in left)
        raise AmlopsError(f"Move {manifest.move_id} finished with {len(left)} item(s) left for a person:\n{todo}", code="MoveIncomplete")
    return report


def _with_renames(manifest: MoveManifest, specs: list[Any], futures: Any) -> MoveManifest:
    """Record compute re-created under a new name (policy 'rename'), so verification and people find it."""
    renamed, notes = dict(manifest.renamed_computes), list(manifest.notes)
    for spec, future in zip(specs, futures, strict=True):
        outcome = future.result() if future.state.is_completed() else ""
        if outcome.startswith("re-created as "):
            new = outcome.removeprefix("re-created as ").split(" ", 1)[0]
            renamed[spec.name] = new
            notes.append(f"compute '{spec.name}' re-created as '{new}': Azure's Etag conflict on the old name persisted")
    return manifest.model_copy(update={"renamed_computes": renamed, "notes": notes})


def _results(futures: Any, kind: str = "") -> list[str]:
    """Wait for mapped tasks. Before the move any failure stops the run; after it, failures are collected."""
    done = wait(list(futures)).done
    failures = []
    for future in done:
        state = future.state
        if state.is_failed():
            error = state.result(raise_on_failure=False)
            if not kind:
                raise error if isinstance(error, BaseException) else AmlopsError(str(error))
            failures.append(f"{kind}: {error}")
    for note in failures:
        get_run_logger().error(note)
    return failures


def _restore(manifest: MoveManifest) -> None:
    """After a failure before the move: put back in the source what this move deleted there."""
    inv, source = manifest.inventory, manifest.request.source_id
    location = inv.workspace.location
    have = t.observe_rebuild(source)
    computes = [c for c in inv.computes if not have.has_compute(c.name)]
    online = [e for e in inv.online_endpoints if not have.has_endpoint(e)]
    problems = _results(t.recreate_compute.map(unmapped(source), computes, unmapped(location)), "restore compute")
    problems += _results(t.redeploy_online_endpoint.map(unmapped(source), online, unmapped(location)), "restore endpoint")
    if problems:
        get_run_logger().error("Restore left work for a person: %s", problems)
