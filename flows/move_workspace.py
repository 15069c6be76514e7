"""move-workspace: Azure's documented workspace move, automated, approved, resumable and verified.

facts (one read) -> refusals and plan (amlops.move, pure) -> approval of the plan's digest -> manifest (the plan,
persisted before anything is deleted) -> facts read again and the plan rebuilt right before the first destructive
step (another digest: a person is asked again, shown what changed) -> disable job schedules -> delete/detach
compute and endpoints -> validate -> move -> the plan's items in the target (compute, endpoints, datastores, grants,
batch deployments, identities' grants, schedules) -> private endpoint connections -> each item's own check.

Every step (and every item of a many-item step) is recorded in the manifest as it completes; a run
started again with the same parameters resumes after the last completed one. Until moveResources is
sent, a failure puts back in the source what the move deleted there. From the moment it is sent the
move is in flight: a run finds where the workspace is and what Azure said of the operation before it
does anything (amlops.move.after_move_sent), and never restores or re-sends on a guess.
"""

# No `from __future__ import annotations` here: a deployment's runner loads this flow from its entrypoint
# and validates parameters against the signature, which must then resolve without this module's globals.
import contextlib
import contextvars
import gc
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from functools import partial
from typing import Any, Literal, TypeVar, cast

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact, create_progress_artifact, create_table_artifact, update_progress_artifact
from prefect.context import FlowRunContext
from prefect.futures import PrefectFuture, as_completed
from prefect.task_runners import ThreadPoolTaskRunner
from prefect.utilities.annotations import quote
from pydantic import BaseModel

from amlops.approvals import Decision, Verdict
from amlops.azure.clients import POOL_SIZE
from amlops.azure.retry import ATTEMPTS
from amlops.errors import (
    AmlopsError,
    MoveFailed,
    MoveIncomplete,
    MoveInProgress,
    MoveNeedsAPerson,
    PlanChanged,
    PreflightFailed,
    RestoreIncomplete,
    TeardownFailed,
)
from amlops.manifests import LeaseKeeper, ManifestStore, open_store
from amlops.models import PrivateEndpointConnection
from amlops.move import (
    STEPS,
    Check,
    MoveApprovals,
    MoveFacts,
    MoveManifest,
    MovePlan,
    MoveRequest,
    Problem,
    Step,
    after_move_sent,
    build_plan,
    changes,
    checks_markdown,
    plan_markdown,
    refusals,
    replaced_identities,
    verify,
)
from flows import approvals
from tasks import move as t
from tasks import move_computes
from tasks.common import sync_result

# A move whose Azure answer is lost (a dropped connection, a killed run) is sent again only after the
# workspace is found still in the source, which makes a resend as safe as the HTTP layer's resend of an
# idempotent call: so the same bound (3 were too few: at 20% faults, a held-out chaos seed lost all three).
SEND_ATTEMPTS = ATTEMPTS


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
        raise PreflightFailed(f"The move was refused ({what}); nothing was changed:\n{lines}", details=[p.model_dump() for p in problems])


def _run_id() -> str:
    context = FlowRunContext.get()
    return str(context.flow_run.id) if context and context.flow_run else "local"


# Items finished within this many seconds of the last save are saved together: a platform's move records a thousand
# items, and its manifest (the inventory and plan) runs to megabytes. A run killed in between does those few again
# (every task checks Azure before it writes); steps and updates are saved at once.
SAVE_SECONDS = 1.0


class _Progress:
    """The move-progress artifact, updated from a thread of its own: each update is a round trip to Prefect's server
    (tens of ms on a busy one), which the flow's next step need not wait for; the manifest, not this, is what a run
    resumes from. Only the latest value is sent; ``close`` waits until it has been."""

    def __init__(self, artifact_id: Any) -> None:
        self.artifact_id = artifact_id
        self._latest: float | None = None
        self._lock = threading.Lock()
        self._sender = ThreadPoolExecutor(max_workers=1, thread_name_prefix="amlops-move-progress")

    def show(self, progress: float) -> None:
        with self._lock:
            self._latest = progress
        self._sender.submit(contextvars.copy_context().run, self._send)

    def _send(self) -> None:
        with self._lock:
            progress, self._latest = self._latest, None
        if progress is None:  # a later update's call sent it already
            return
        try:
            update_progress_artifact(artifact_id=self.artifact_id, progress=progress)
        except Exception as err:  # noqa: BLE001 - the UI's progress bar: the move goes on without it
            get_run_logger().warning("The move's progress artifact was not updated (%s: %s)", type(err).__name__, err)

    def close(self) -> None:
        self._sender.shutdown(wait=True)


class Ledger:
    """The manifest of one move, saved after every change: what a killed run resumes from."""

    def __init__(self, store: ManifestStore, manifest: MoveManifest, lease: LeaseKeeper | None = None) -> None:
        self.store, self.manifest, self.lease = store, manifest, lease
        self.progress = _Progress(sync_result(create_progress_artifact(progress=manifest.progress(), key="move-progress", description=f"Move {manifest.move_id}: steps done")))
        self._lock = threading.RLock()  # items finish in the flow's thread and in the compute follower's
        self._saved_at, self._dirty = 0.0, False

    def close(self) -> None:
        """The last progress shown before the run ends."""
        self.progress.close()

    def _save(self) -> None:
        if self.lease is not None and self.lease.lost:  # another run holds the move now: act no further
            raise MoveInProgress(f"This run's lock on {self.manifest.request.source} expired and another run took it; stopping here.")
        self.store.save(self.manifest)
        self._saved_at, self._dirty = time.monotonic(), False

    def flush(self) -> None:
        """Save items not saved yet."""
        with self._lock:
            if self._dirty:
                self._save()

    def update(self, **changes: Any) -> None:
        with self._lock:
            self.manifest = self.manifest.model_copy(update=changes)
            self._save()

    def step(self, step: Step, note: str = "", **changes: Any) -> None:
        """The step done, with any ``changes`` to the manifest that go with it: one save."""
        with self._lock:
            notes = [*self.manifest.notes, note] if note else self.manifest.notes
            self.manifest = self.manifest.with_step(step).model_copy(update={"notes": notes, **changes})
            self._save()
        items = len(self.manifest.items_done.get(step, []))
        get_run_logger().info("Step %s done: %s of %s steps%s", step.value, STEPS.index(step) + 1, len(STEPS), f", {items} item(s)" if items else "")
        self.progress.show(self.manifest.progress())

    def item(self, step: Step, key: str) -> None:
        self.items(step, {key: key})

    def items(self, step: Step, done: dict[str, str]) -> None:
        """Items finished (``done``: key -> result; a re-created compute's result is the name it lives under now),
        saved within SAVE_SECONDS."""
        with self._lock:
            for key, result in done.items():
                if step == Step.RECREATE_COMPUTE and result != key:
                    self.manifest = self.manifest.model_copy(update={"renamed_computes": {**self.manifest.renamed_computes, key: result}})
                self.manifest = self.manifest.with_item(step, key)
            self._dirty = True
            if time.monotonic() - self._saved_at >= SAVE_SECONDS:
                self._save()


@flow(name="move-workspace", task_runner=ThreadPoolTaskRunner(max_workers=POOL_SIZE), log_prints=True)  # type: ignore[arg-type]  # Prefect types flow(task_runner=) as TaskRunner[PrefectFuture], invariant: its own ThreadPoolTaskRunner does not fit
def move_workspace(request: MoveRequest, approvals: MoveApprovals | None = None) -> MoveReport:
    """What to move (one form: MoveRequest) and how people are asked (MoveApprovals)."""
    logger = get_run_logger()
    asks = approvals or MoveApprovals()
    dry_run, request = request.dry_run, request.model_copy(update={"dry_run": False}).validated()
    store = open_store()  # a blob container shared by the team's workers when AMLOPS_STATE_URL names one
    manifest = store.load(request.move_id)
    if manifest is not None and manifest.status == "restored":
        logger.info("Move %s was stopped and restored earlier; starting again from a fresh snapshot and plan", manifest.move_id)
        manifest = None
    if dry_run:
        if manifest is None:
            plan, _ = _prepare(request, asks, dry_run=True)
            return MoveReport(move_id=request.move_id, status="planned", source=request.source, target=str(request.target_id), plan=plan, notes=["dry run: nothing was changed"])
        return MoveReport(move_id=manifest.move_id, status="planned", source=request.source, target=str(request.target_id), plan=manifest.plan, notes=[f"a move is under way; done so far: {manifest.steps_done}"])

    run_id = _run_id()
    # Taken before the plan waits for a person, and renewed all the while: two runs never both act.
    store.acquire(request.source, request.move_id, run_id)
    try:
        with LeaseKeeper(store, request.source, run_id) as lease:
            fresh = manifest is None
            if manifest is None:
                _, manifest = _prepare(request, asks)
                assert manifest is not None
                store.save(manifest)
                logger.info("Manifest %s saved to %s before anything is deleted", manifest.move_id, store.path(manifest.move_id))
            else:
                logger.info("Resuming move %s after steps %s", manifest.move_id, [s.value for s in manifest.steps_done])
            # Facts read moments ago and a plan approved unattended need no second read; a person's wait, or a
            # resumed run, does.
            just_read = fresh and (asks.approve_plan_as is not None or not asks.require_approval)
            ledger = Ledger(store, manifest, lease)
            try:
                with _heap_set_aside():
                    report = _execute(ledger, asks, just_read)
            finally:
                ledger.close()
    except Exception:
        store.release(request.source, run_id)
        raise
    # A suspend (Prefect's Pause, not an Exception) keeps the lock: the run comes back to it.
    store.release(request.source, run_id)
    return report


@contextlib.contextmanager
def _heap_set_aside() -> Iterator[None]:
    """What the process holds before the destructive steps (its imports and clients, the run's inventory and plan)
    outlives them: set aside from the cyclic garbage collector while they run (gc.freeze), and handed back after, so a
    full collection the run triggers walks only what the run made since. Walking everything took ~0.27 s of the
    process's one interpreter at a platform's size, three times inside the downtime (bench/move_downtime.py)."""
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def _facts(request: MoveRequest, window_minutes: float, what: str) -> MoveFacts:
    """The facts, read once; refused here (nothing written) when any rule of amlops.move.preflight says so."""
    facts: MoveFacts = t.read_facts(request, window_minutes)
    _refuse(refusals(request, facts), what)
    return facts


def _show(plan: MovePlan, changed: list[str] | None = None) -> str:
    markdown = plan_markdown(plan, changed)
    create_markdown_artifact(key="move-plan", markdown=markdown, description=f"Plan of move {plan.move_id}, digest {plan.digest}")
    print(markdown)
    return markdown


def _approval(plan: MovePlan, markdown: str, workspace_name: str, asks: MoveApprovals) -> str:
    """A person's approval of this plan (its digest), or the unattended answer; who approved, in words."""
    if not asks.require_approval:
        return f"not required (digest {plan.digest})"
    answer = approvals.approve_plan(markdown, workspace_name, asks.timeout_seconds, asks.poll_seconds, asks.approve_plan_as, asks.confirm_workspace, digest=plan.digest)
    return f"{answer.approver}: {answer.reason} (digest {plan.digest})"


def _prepare(request: MoveRequest, asks: MoveApprovals, dry_run: bool = False) -> tuple[MovePlan, MoveManifest | None]:
    """Facts, refusals, plan and approval: reads only. Returns the manifest to persist, or None for a dry run."""
    facts = _facts(request, request.quiesce_window_minutes, "preflight")
    plan = build_plan(request, facts.inventory)
    markdown = _show(plan)
    if dry_run:
        get_run_logger().info("Dry run: stopping after the plan; nothing was changed.")
        return plan, None
    approver = _approval(plan, markdown, facts.inventory.workspace.name, asks)
    manifest = MoveManifest(move_id=request.move_id, request=request, inventory=facts.inventory, plan=plan, approved_digest=plan.digest, approved_by=approver, quiesced_at=_now())
    return plan, manifest.with_step(Step.SNAPSHOT)


# How often the workspace may change under a waiting plan before the run stops asking.
PLAN_ASKS = 3


def _confirm_plan(ledger: Ledger, asks: MoveApprovals) -> None:
    """Right before the first destructive step: read the facts again and rebuild the plan. The same digest: go on.
    Another: nothing destructive happens; a person is asked again, shown what changed, and the new plan is what runs."""
    for _ in range(PLAN_ASKS):
        m = ledger.manifest
        facts = _facts(m.request, _since_quiesced_minutes(m), "the workspace was used again since the plan was made")
        plan = build_plan(m.request, facts.inventory)
        if plan.digest == m.approved_digest:
            ledger.update(inventory=facts.inventory, plan=plan, quiesced_at=_now())
            ledger.step(Step.QUIESCE)
            return
        changed = changes(m.plan, plan)
        get_run_logger().warning("The workspace changed since the plan was approved; asking again before anything is deleted: %s", "; ".join(changed))
        approver = _approval(plan, _show(plan, changed), facts.inventory.workspace.name, asks)
        ledger.update(inventory=facts.inventory, plan=plan, approved_digest=plan.digest, approved_by=approver, quiesced_at=_now())
    raise PlanChanged(f"The workspace kept changing while its plan waited ({PLAN_ASKS} approvals); nothing was deleted. Run the move again once it is settled.")


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _execute(ledger: Ledger, asks: MoveApprovals, just_read: bool = False) -> MoveReport:
    if ledger.manifest.status == "restoring":  # a run stopped while putting the source back
        where = t.workspace_location(ledger.manifest.request)
        if where == "target":  # Azure's "failed" was wrong after all: the move happened; rebuild there
            ledger.update(status="in-progress")
            ledger.step(Step.MOVE)
        elif where == "source":
            _restore_source(ledger, MoveFailed("an earlier run was restoring the source when it stopped", code="RestoreResumed"))
        else:
            raise MoveNeedsAPerson(f"The workspace is in neither {ledger.manifest.request.source} nor the target; nothing was touched.")
    if not ledger.manifest.done(Step.MOVE):
        try:
            _teardown(ledger, asks, just_read)
            _move(ledger)
        except AmlopsError as err:
            # Restore only when the move cannot be running or done: never sent, or Azure said it failed.
            if ledger.manifest.move_sent or t.workspace_location(ledger.manifest.request) != "source":
                raise
            _restore_source(ledger, err)
    # The connections need only the moved workspace: those a rule decides are approved while the rebuild runs; a
    # person is asked once it is done (a pause stops the run's tasks, and a suspend its process).
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="amlops-move-approvals") as one:
        by_rules = one.submit(contextvars.copy_context().run, _approve_by_rules, ledger, asks)
        problems = _rebuild(ledger)
        needs_person = by_rules.result()
    _approve_private_endpoints(ledger, asks, needs_person)
    return _finish(ledger, problems)


# -- before the move: everything here can still be undone


def _teardown(ledger: Ledger, asks: MoveApprovals, just_read: bool) -> None:
    if just_read:
        ledger.step(Step.QUIESCE)  # the facts of this very run's plan, read seconds ago
    elif not ledger.manifest.destroyed_anything():
        _confirm_plan(ledger, asks)
    m = ledger.manifest
    plan, source = m.plan, m.request.source_id
    if not m.done(Step.PAUSE_JOB_SCHEDULES):  # no schedule starts a job mid-move
        if plan.enabled_schedules:
            t.pause_job_schedules(source, plan.enabled_schedules)
        ledger.step(Step.PAUSE_JOB_SCHEDULES)
    # Independent of each other: compute and endpoints go at the same time, the compute (hundreds on a platform) sent
    # at once from a thread of its own and followed by listing the workspace (tasks/move_computes.py), the endpoints
    # as one task's batch.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="amlops-move-compute") as one:
        compute = one.submit(contextvars.copy_context().run, _delete_compute, ledger) if not m.done(Step.DELETE_COMPUTE) else None
        names = [e.name for e in plan.online_endpoints if not m.item_done(Step.DELETE_ENDPOINTS, e.name)]
        endpoints = t.delete_online_endpoints.submit(source, names) if not m.done(Step.DELETE_ENDPOINTS) else None
        failures = compute.result() if compute is not None else []
    if failures:
        raise TeardownFailed(f"{Step.DELETE_COMPUTE.value} failed before the move: " + "; ".join(failures))
    if compute is not None:
        ledger.step(Step.DELETE_COMPUTE)
    if endpoints is not None:
        failures = _collect_batch(ledger, Step.DELETE_ENDPOINTS, endpoints, {})
        if failures:
            raise TeardownFailed(f"{Step.DELETE_ENDPOINTS.value} failed before the move: " + "; ".join(failures))
        ledger.step(Step.DELETE_ENDPOINTS)


def _delete_compute(ledger: Ledger) -> list[str]:
    m = ledger.manifest
    todo = [c for c in m.plan.computes if not m.item_done(Step.DELETE_COMPUTE, c.name)]
    failures = _failed(Step.DELETE_COMPUTE, move_computes.delete_computes(m.request.source_id, todo, partial(ledger.items, Step.DELETE_COMPUTE)))
    ledger.flush()
    return failures


def _failed(step: Step, failures: dict[str, str]) -> list[str]:
    """A batch's failures in words, each logged."""
    for key, why in failures.items():
        get_run_logger().error("%s %s failed: %s", step.value, key, why)
    return [f"{key}: {why}" for key, why in failures.items()]


def _since_quiesced_minutes(manifest: MoveManifest) -> float:
    """The look-back of the last traffic check: from the first quiet reading to now (at least a minute)."""
    if not manifest.quiesced_at:
        return float(manifest.request.quiesce_window_minutes)
    elapsed = (datetime.now(UTC) - datetime.fromisoformat(manifest.quiesced_at)).total_seconds() / 60
    return max(1.0, elapsed) if manifest.request.quiesce_window_minutes else 0.0


def _move(ledger: Ledger) -> None:
    """Send moveResources once and follow it to its end; a resumed run follows the move it finds in flight."""
    logger = get_run_logger()
    request = ledger.manifest.request
    for _ in range(SEND_ATTEMPTS):
        m = ledger.manifest
        if not m.move_sent:
            t.ensure_target_group(request, m.inventory.workspace.location)
            # Immediately before the move: no job started since the gate. (Endpoint traffic was read again
            # just before the endpoints were deleted; deleted endpoints serve nothing.)
            _refuse(t.quiesce_check(request), "the workspace was used again before the move")
            t.validate_move(request, m.resources)
            ledger.step(Step.VALIDATE)
            ledger.update(move_sent=True, move_operation="")  # the intent, recorded before the request leaves
            outcome = t.send_move(request, m.resources, on_accepted=lambda token: ledger.update(move_operation=token))
        elif m.move_operation:
            logger.info("A move of %s is in flight: following Azure's operation", request.source)
            outcome = t.follow_move(request, m.resources, m.move_operation)
        else:
            outcome = t.MoveOutcome(end="unknown", message="the run that sent the move stopped before Azure's answer was recorded")
        location = t.workspace_location(request)
        action = after_move_sent(location, outcome.end)
        logger.info("Move operation %s%s; the workspace is in the %s: %s", outcome.end, f" ({outcome.message})" if outcome.message else "", location, action)
        if action == "rebuild":
            ledger.step(Step.MOVE)
            return
        if action == "restore":
            ledger.update(move_sent=False, move_operation="")  # over, and it did not happen: the source may be restored
            raise MoveFailed(f"Azure refused or failed the move: {outcome.message}")
        if action == "stop":
            where = "in neither the source nor the target" if location == "missing" else "still in the source though Azure reported the move succeeded"
            raise MoveNeedsAPerson(
                f"The workspace is {where}. Nothing more was touched. Check {request.source} and {request.target_id} in the Azure portal; "
                f"run the same command again once it has settled (manifest {m.move_id})."
            )
        ledger.update(move_sent=False, move_operation="")  # resend: the workspace is in the source, no move of ours is known
    raise MoveFailed(f"Azure's answer to the move was lost {SEND_ATTEMPTS} times; the workspace is still in the source.")


def _restore_source(ledger: Ledger, reason: AmlopsError) -> None:
    """After a failure before the move: put back in the source what this move deleted there, then stop."""
    ledger.update(status="restoring")
    inv, source = ledger.manifest.inventory, ledger.manifest.request.source_id
    location = inv.workspace.location
    have = t.observe_rebuild(source)
    computes = {c.name: t.recreate_compute.submit(source, c, location) for c in ledger.manifest.plan.computes if not have.has_compute(c.name)}
    online = {e.name: t.redeploy_online_endpoint.submit(source, e, location) for e in inv.online_endpoints if not have.has_endpoint(e)}
    problems = _collect(None, None, computes) + _collect(None, None, online)
    enabled = ledger.manifest.plan.enabled_schedules
    if enabled:  # what the move paused runs again in the source
        problems += _collect(None, None, {"job schedules": t.resume_job_schedules.submit(source, enabled)})
    if problems:  # stays 'restoring': the next run finishes the restore before anything else
        raise RestoreIncomplete(f"The move stopped before Azure moved anything ({reason}), and putting back the source left work: " + "; ".join(problems)) from reason
    ledger.manifest = ledger.manifest.restarted()
    ledger.update()
    create_markdown_artifact(key="move-restored", markdown=f"Move `{ledger.manifest.move_id}` stopped before the move and restored the source's compute and endpoints.\n\nReason: {reason}")
    raise reason


# -- after the move: rebuild, approve, verify


def _rebuild(ledger: Ledger) -> list[str]:
    """The plan's items in the target, each started as soon as what it needs is there and recorded as it succeeds:
    endpoints, datastores and grants at once (the endpoints first: their deployments are the longest chain), compute
    meanwhile, then what needs compute (batch deployments, job schedules), then grants of replaced identities."""
    m = ledger.manifest
    plan, target, location = m.plan, m.request.target_id, m.inventory.workspace.location
    have = t.observe_rebuild(target)  # one read per kind, so a resumed run re-creates only what is missing
    repoint = {i.name for i in plan.datastores if i.action == "re-point"}
    deployed = _Awaited()  # endpoints whose deployments' PUTs Azure has answered (or whose run has ended)
    endpoints: dict[Step, dict[str, Callable[[], PrefectFuture[Any]]]] = {
        Step.REDEPLOY_ENDPOINTS: {
            e.name: partial(t.redeploy_online_endpoint.submit, target, _whole(e.endpoint), location, partial(deployed.done, e.name))
            for e in plan.online_endpoints if e.action == "redeploy" and not have.has_endpoint(e.endpoint)
        },
    }  # fmt: skip
    running = _submit(m, endpoints)
    for name, future in running.get(Step.REDEPLOY_ENDPOINTS, {}).items():
        future.add_done_callback(partial(_ended, deployed, name))  # a run that failed answers for its endpoint too
    deployed.expect(running.get(Step.REDEPLOY_ENDPOINTS, {}))
    # Compute from a thread of its own, sent at once and followed by listing (tasks/move_computes.py); once every
    # create is answered and every endpoint's deployments are (long operations get ARM's write budget first: the
    # critical path's order), the quick writes go as two batches (a task run each would cost the flow more than the
    # writes). In the flow's context, so its logs are the run's.
    batches: dict[Step, PrefectFuture[t.Batch]] = {}
    sent = threading.Event()  # every compute's create answered: the quick writes after them, not before them
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="amlops-move-compute") as one:
        compute = one.submit(contextvars.copy_context().run, _rebuild_compute, ledger, sent.set)
        sent.wait()
        deployed.wait()
        if not m.done(Step.REPOINT_DATASTORES):
            stale = {d.name: d for d in have.datastores if d.name in repoint and not d.points_at(target.subscription, target.resource_group) and not m.item_done(Step.REPOINT_DATASTORES, d.name)}
            batches[Step.REPOINT_DATASTORES] = t.repoint_datastores.submit(target, _whole(stale), target.subscription, target.resource_group)
        if not m.done(Step.RECREATE_ROLE_ASSIGNMENTS):
            grants = {g.key: g.grant for g in plan.grants_to("re-create") if not m.item_done(Step.RECREATE_ROLE_ASSIGNMENTS, g.key)}
            batches[Step.RECREATE_ROLE_ASSIGNMENTS] = t.recreate_role_assignments.submit(_whole(grants))
        problems = compute.result()
    running |= _after_compute(ledger)
    # The quick writes ended long before the endpoints' deployments will: recorded now, not at the rebuild's end.
    for step, batch in batches.items():
        results: dict[str, str] = {}
        failures = _collect_batch(ledger, step, batch, results)
        problems += failures
        if step == Step.RECREATE_ROLE_ASSIGNMENTS:
            _record_gone_principals(ledger, results)
        if not failures:
            ledger.step(step)
    return problems + _collect_steps(ledger, running) + _regrant_identities(ledger)


class _Awaited:
    """Items a step waits for until each is done: those ``expect``-ed, whether ``done`` is said of them before or after
    (and however often)."""

    def __init__(self) -> None:
        self._done: set[str] = set()
        self._waiting: set[str] | None = None
        self._lock = threading.Lock()
        self._all = threading.Event()

    def expect(self, keys: Iterable[str]) -> None:
        with self._lock:
            self._waiting = set(keys) - self._done
            if not self._waiting:
                self._all.set()

    def done(self, key: str) -> None:
        with self._lock:
            self._done.add(key)
            if self._waiting is not None:
                self._waiting.discard(key)
                if not self._waiting:
                    self._all.set()

    def wait(self) -> None:
        self._all.wait()


def _ended(awaited: _Awaited, key: str, _: PrefectFuture[Any]) -> None:
    awaited.done(key)


W = TypeVar("W")


def _whole(value: W) -> W:
    """``value`` as a task's parameter that Prefect passes as it is (prefect.utilities.annotations.quote) instead of
    visiting it field by field, looking for futures, at the start of the task's run: a platform's grants and datastores
    are hundreds of models, visited just as the endpoints' deployments are sent."""
    return cast(W, quote(value))


def _submit(m: MoveManifest, steps: dict[Step, dict[str, Callable[[], PrefectFuture[Any]]]]) -> dict[Step, dict[str, PrefectFuture[Any]]]:
    """Submit each item not done yet, of each step not done yet."""
    return {step: {key: submit() for key, submit in items.items() if not m.item_done(step, key)} for step, items in steps.items() if not m.done(step)}


def _rebuild_compute(ledger: Ledger, on_sent: Callable[[], None]) -> list[str]:
    """Every compute sent at once and followed by listing the workspace; an instance to be Stopped stopped once up.
    ``on_sent`` is called once every create is answered, and in any case before this returns or raises."""
    m = ledger.manifest
    try:
        if m.done(Step.RECREATE_COMPUTE):
            return []
        wanted = {
            c.name: (c, m.renamed_computes.get(c.name, c.name))
            for c in m.plan.computes if c.action in ("re-create", "re-attach") and not m.item_done(Step.RECREATE_COMPUTE, c.name)
        }  # fmt: skip
        rename = m.request.etag_conflict_policy == "rename"
        done = partial(ledger.items, Step.RECREATE_COMPUTE)
        failed = move_computes.recreate_computes(m.request.target_id, wanted, m.inventory.workspace.location, done, rename_on_conflict=rename, on_sent=on_sent)
    finally:
        on_sent()
    ledger.flush()
    if not failed:
        ledger.step(Step.RECREATE_COMPUTE)
    return _failed(Step.RECREATE_COMPUTE, failed)


def _after_compute(ledger: Ledger) -> dict[Step, dict[str, PrefectFuture[Any]]]:
    """What names compute, sent once compute is back: batch deployments re-pointed, job schedules enabled again."""
    m = ledger.manifest
    plan, target, location = m.plan, m.request.target_id, m.inventory.workspace.location
    running: dict[Step, dict[str, PrefectFuture[Any]]] = {}
    if not m.done(Step.REPOINT_BATCH_DEPLOYMENTS):
        running[Step.REPOINT_BATCH_DEPLOYMENTS] = {
            b.name: t.repoint_batch_deployment.submit(target, b.endpoint, b.deployment, location)
            for b in plan.batch_deployments if not m.item_done(Step.REPOINT_BATCH_DEPLOYMENTS, b.name)
        }  # fmt: skip
    if not m.done(Step.RESUME_JOB_SCHEDULES):
        enabled = plan.enabled_schedules
        running[Step.RESUME_JOB_SCHEDULES] = {"job schedules": t.resume_job_schedules.submit(target, enabled)} if enabled else {}
    return running


def _record_gone_principals(ledger: Ledger, results: dict[str, Any]) -> None:
    """Grants skipped because ARM found their principal deleted (PrincipalNotFound) where the directory could not be
    read before: recorded, so the verification and the report say why they are not there."""
    skipped = [key for key, said in results.items() if str(said).startswith(t.SKIPPED_GONE)]
    gone = sorted({key.split(" as ")[0] for key in skipped})
    if gone:
        notes = [f"grant {key} skipped: its principal no longer exists in the directory (PrincipalNotFound)" for key in skipped]
        ledger.update(gone_principals=sorted({*ledger.manifest.gone_principals, *gone}), notes=[*ledger.manifest.notes, *notes])


def _regrant_identities(ledger: Ledger) -> list[str]:
    """After compute and endpoints are back: the grants of replaced identities given to their successors."""
    m = ledger.manifest
    request, plan, target = m.request, m.plan, m.request.target_id
    if m.done(Step.REGRANT_IDENTITIES):
        return []
    before = replaced_identities(ledger.manifest)  # after the rebuild: under the names computes live under now
    if not before:
        ledger.step(Step.REGRANT_IDENTITIES)
        return []
    moved = (plan.move, request.source_id.group_id, request.target_group_id)
    try:
        done = t.regrant_replaced_identities(target, before, m.inventory.role_assignments, *moved)
    except AmlopsError as err:  # after the move failures are reported, not raised; the next run tries again
        return [f"grants of replaced identities: {err}"]
    ledger.update(replaced_principals={**ledger.manifest.replaced_principals, **done.replaced})
    if done.missing:  # not re-created (yet): the next run gives their grants once they are back
        return [f"grants of replaced identities: {', '.join(done.missing)} not back yet, so their grants were not given again"]
    ledger.step(Step.REGRANT_IDENTITIES, "; ".join(done.granted))
    return []


def _collect_batch(ledger: Ledger, step: Step, future: PrefectFuture[t.Batch], results: dict[str, str]) -> list[str]:
    """Wait for one step's batch; record each item that succeeded (what it said into ``results``); return what
    failed, in words."""
    future.wait()
    if not future.state.is_completed():
        error = future.state.result(raise_on_failure=False)
        get_run_logger().error("%s failed: %s", step.value, error)
        return [f"{step.value}: {error}"]
    batch = future.result()
    results |= batch.done
    ledger.items(step, {key: key for key in batch.done})
    ledger.flush()
    return _failed(step, batch.failed)


def _collect(ledger: Ledger | None, step: Step | None, futures: dict[str, PrefectFuture[Any]], results: dict[str, Any] | None = None) -> list[str]:
    """Wait for one step's items; record each that succeeded (its result into ``results``, if given); return what
    failed, in words."""
    try:
        return _collect_all(ledger, step, futures, results)
    finally:
        if ledger is not None:
            ledger.flush()


def _collect_all(ledger: Ledger | None, step: Step | None, futures: dict[str, PrefectFuture[Any]], results: dict[str, Any] | None) -> list[str]:
    by_future = {id(f): key for key, f in futures.items()}
    failures = []
    for future in as_completed(list(futures.values())):
        failures += _collected(ledger, step, by_future[id(future)], future, results)
    return failures


def _collected(ledger: Ledger | None, step: Step | None, key: str, future: PrefectFuture[Any], results: dict[str, Any] | None = None) -> list[str]:
    """One item's end: recorded if it succeeded (its result into ``results``, if given), else its failure in words."""
    future.wait()  # as_completed can hand a future over before its final state is readable
    state = future.state
    if state.is_completed():
        result = future.result()
        if results is not None:
            results[key] = result
        if ledger is not None and step is not None:
            ledger.item(step, key)
        return []
    error = state.result(raise_on_failure=False)
    get_run_logger().error("%s %s failed: %s", step.value if step else "restore", key, error)
    return [f"{key}: {error}"]


def _collect_steps(ledger: Ledger, steps: dict[Step, dict[str, PrefectFuture[Any]]]) -> list[str]:
    """Wait for several steps' items at once: each item recorded as it succeeds, each step as soon as all its items
    have (in the order the steps end, so at the rebuild's end only the last one's record is left); returns what
    failed, in words."""
    owner = {id(f): (step, key) for step, futures in steps.items() for key, f in futures.items()}
    left = {step: len(futures) for step, futures in steps.items()}
    failed: dict[Step, list[str]] = {step: [] for step in steps}
    try:
        for step in [s for s, n in left.items() if n == 0]:
            ledger.step(step)
        futures = [f for by_key in steps.values() for f in by_key.values()]
        for future in as_completed(futures) if futures else ():
            step, key = owner[id(future)]
            failed[step] += _collected(ledger, step, key, future)
            left[step] -= 1
            if left[step] == 0 and not failed[step]:
                ledger.step(step)
    finally:
        ledger.flush()
    return [failure for failures in failed.values() for failure in failures]


def _approve_by_rules(ledger: Ledger, asks: MoveApprovals) -> list[PrivateEndpointConnection] | None:
    """The target's connections a rule decides (the allow-list, the policy flag), approved at once and recorded;
    returns those left for a person (None: the step was done by an earlier run). With none left, the decisions are
    audited here, while the rebuild runs (what asking nobody does): the step is then recorded after the rebuild."""
    m = ledger.manifest
    if m.done(Step.APPROVE_PRIVATE_ENDPOINTS):
        return None
    approve_as = asks.approve_private_endpoints_as
    rest: tuple[str, Verdict] | None = (approve_as, "approve") if approve_as else None
    decided, needs_person = approvals.decide_by_rules(m.request.target_id, m.request.private_endpoint_allow_list, rest, m.plan.approvable_endpoints())
    ledger.update(decisions=[*ledger.manifest.decisions, *decided])
    if not needs_person:
        _ask_a_person(ledger, asks, [])
    return needs_person


def _ask_a_person(ledger: Ledger, asks: MoveApprovals, needs_person: list[PrivateEndpointConnection]) -> list[Decision]:
    """A person decides ``needs_person`` (nobody is asked if it is empty); every decision is audited."""
    m = ledger.manifest
    decided = [d for d in m.decisions if d.via != "person"]
    return approvals.ask_a_person(m.request.target_id, needs_person, m.request.private_endpoint_allow_list, asks.timeout_seconds, asks.poll_seconds, m.plan.approvable_endpoints(), decided)


def _approve_private_endpoints(ledger: Ledger, asks: MoveApprovals, needs_person: list[PrivateEndpointConnection] | None) -> None:
    """After the rebuild: a person decides the connections no rule did (audited during the rebuild if there were none)."""
    if needs_person is None:
        return
    decisions = _ask_a_person(ledger, asks, needs_person) if needs_person else []
    ledger.step(Step.APPROVE_PRIVATE_ENDPOINTS, decisions=[*ledger.manifest.decisions, *decisions])


def _finish(ledger: Ledger, problems: list[str]) -> MoveReport:
    """Verify the moved workspace against the manifest, from Azure's state; exit clean only if all matches."""
    m = ledger.manifest
    request, target = m.request, m.request.target_id
    observed = t.snapshot_workspace(target)
    checks = verify(m, observed)
    create_table_artifact(key="move-verification", table=[c.model_dump() for c in checks], description=f"Move {m.move_id}: moved workspace against the manifest")
    print(checks_markdown(checks))
    left = [c for c in checks if not c.ok]
    status: Literal["completed", "incomplete"] = "completed" if not left else "incomplete"
    ledger.update(status=status)
    ledger.step(Step.VERIFY)
    skipped = [f"grant {g.key} skipped: {g.reason}" for g in m.plan.grants_to("skip")]
    report = MoveReport(move_id=m.move_id, status=status, source=request.source, target=str(target), checks=checks, notes=problems + skipped + ledger.manifest.notes)
    if left:
        todo = "\n".join(f"- {c.kind} {c.name}: {c.action}" for c in left)
        raise MoveIncomplete(f"Move {m.move_id} finished with {len(left)} item(s) left for a person:\n{todo}")
    return report
