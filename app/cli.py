"""The `amlops` command: run the emulator, move a workspace, list and answer approval pauses.

Exit codes come from the outcome's class (amlops.errors): 0 done; 2 bad input; 3 refused (preflight,
quiesce, approval); 4 finished with work left for a person; 1 Azure failed, or a bug. An outcome prints
one paragraph, its message, as the last thing on stderr; only a bug prints a traceback.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from amlops import terminal
from amlops.errors import EXIT_CODES, AmlopsError, InvalidInput
from app.rehearse import add_commands
from app.running import allow_list, allow_list_options, move_kwargs, move_options, run_move, settled, started_by, starter_option

if TYPE_CHECKING:
    from amlops.emulator import Emulator

__all__ = ["EXIT_CODES", "main"]
DEMO_TARGET = ("22222222-2222-2222-2222-222222222222", "ml-prod-moved")


def _emulator(args: argparse.Namespace) -> int:
    from amlops.emulator import Emulator, scenario

    spec = scenario.read(args.scenario) if args.scenario else None
    emulator = Emulator(args.host, args.port, scenario_spec=spec)
    emulator.state.clock.set_speed(args.speed)
    exports = emulator.env() | ({"AMLOPS_TIME_SCALE": f"{args.speed:g}"} if args.speed != 1 else {})  # the clients wait and pace as fast
    for name, value in exports.items():
        print(f"export {name}={value}")
    sys.stdout.flush()
    signal.signal(signal.SIGTERM, _interrupted)  # stopped by a supervisor or `kill`: clean up as after Ctrl-C
    try:
        emulator.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        emulator.stop()  # its certificate and key go with it
    return 0


def _interrupted(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _workspace_id(value: str) -> str:
    from amlops.models import ResourceId

    return str(ResourceId.parse(value).require_workspace())


def _pairs(values: list[str], what: str) -> dict[str, str]:
    """NAME=VALUE options, or InvalidInput naming the one that is not."""
    bad = [v for v in values if "=" not in v or not v.split("=", 1)[0]]
    if bad:
        raise InvalidInput(f"{what} {bad[0]!r} is not NAME=VALUE.")
    return dict(v.split("=", 1) for v in values)


# Bad input is refused here, before anything heavy starts: the checks below import only amlops' pure
# modules (no Prefect, no Azure SDK), so a typo is answered at once and no temporary server is started.


def _move(args: argparse.Namespace) -> int:
    kwargs = move_kwargs(args)
    kwargs["request"].validated()  # a typo is answered here, before any server starts
    with started_by(args.started_by):
        return run_move(kwargs)


def _demo(args: argparse.Namespace) -> int:
    """A full move of the demo workspace against the emulator, approvals answered by policy flags,
    then a short training run in the moved workspace that survives a preemption."""
    from amlops.approvals import AllowList
    from amlops.emulator import scenario
    from amlops.move import MoveApprovals, MoveRequest
    from amlops.rehearsal import rehearsal
    from deployments import local_server

    spec = scenario.read(scenario.DEMO)
    with rehearsal(spec) as r:
        local_server.start()  # Prefect's temporary server, from the install's migrated database
        emulator, blob_url = r.emulator, r.blob_url
        source = spec["workspaces"][0]["id"]
        started = time.perf_counter()
        print(f"Emulator at {emulator.base_url}, Azurite at {blob_url}; moving {source}\n  to subscription {DEMO_TARGET[0]}, resource group {DEMO_TARGET[1]}\n")
        code = run_move(
            {
                "request": MoveRequest(
                    source=source, target_subscription=DEMO_TARGET[0], target_resource_group=DEMO_TARGET[1],
                    private_endpoint_allow_list=AllowList(subscriptions=["11111111-1111-1111-1111-111111111111"]),
                ),
                "approvals": MoveApprovals(approve_plan_as="demo-operator", confirm_workspace=source.rsplit("/", 1)[-1], approve_private_endpoints_as="demo-operator"),
            }
        )  # fmt: skip
        requests, writes = r.counts()
        print(f"\nMove finished in {time.perf_counter() - started:.1f} s: {requests} ARM requests ({writes} writes).")
        if code == 0:
            code = _demo_training(emulator, source.replace("11111111-1111-1111-1111-111111111111", DEMO_TARGET[0]).replace("/ml-prod/", f"/{DEMO_TARGET[1]}/"))
    return code


def _demo_training(emulator: Emulator, workspace: str) -> int:
    """Training in the moved workspace: preempted once, resumed from its latest checkpoint, completed."""
    from amlops.emulator.control_client import EmulatorControl
    from amlops.training import Budgets, CheckpointLocation, attempt_line, time_lost
    from flows.train_with_retries import train_with_retries

    print("\nTraining in the moved workspace; the first attempt will be preempted.\n")
    control = EmulatorControl(emulator.base_url, str(emulator.ca_file))  # over HTTPS, as any client reaches the emulator
    control.settings(job_queue_seconds=0.5)
    control.schedule_job_end("demo-forecast-001", "preempt", after=3.5, partial=True)
    state = train_with_retries(
        workspace=workspace, command="python train.py", environment="azureml:forecast-env:1", compute="gpu-cluster",
        checkpoint=CheckpointLocation(datastore="checkpoints", path="runs/forecast"), lineage="demo-forecast",
        budgets=Budgets(backoff_seconds=0), watch_seconds=0.5,
        environment_variables={"AMLOPS_STEPS_PER_SECOND": "10", "AMLOPS_CHECKPOINT_EVERY": "1", "AMLOPS_TOTAL_STEPS": "60"},
        return_state=True,
    )  # fmt: skip
    report = settled(state, "Training did not complete.")
    for a in report.attempts:
        print("  " + attempt_line(a))
    print(f"Training {report.lineage}: {report.outcome}; {time_lost(report.attempts)}")
    return 0


def _approve_endpoints(args: argparse.Namespace) -> int:
    """Run approve-private-endpoints here: allow-listed connections at once, a person for the rest."""
    workspace = _workspace_id(args.workspace)
    from flows.approve_private_endpoints import approve_private_endpoints

    with started_by(args.started_by):
        state = approve_private_endpoints(workspace=workspace, allow_list=allow_list(args), timeout_seconds=args.timeout, poll_seconds=args.poll, return_state=True)
    outcome = settled(state, "Private endpoint approval did not complete.")
    for d in outcome:
        print(f"{d.connection}: {d.verdict} by {d.decided_by} via {d.via} -> {d.outcome}")
    return 0


def _serve(args: argparse.Namespace) -> int:
    """Serve every deployment (fleet schedules, on-demand move and approvals) against PREFECT_API_URL."""
    from deployments.fleet import serve

    serve()
    return 0


def _deploy(args: argparse.Namespace) -> int:
    from deployments.fleet import deploy

    checkout = str(Path(args.checkout).resolve()) if args.checkout else None
    token = os.environ.get("AMLOPS_GIT_TOKEN")
    ids = deploy(args.work_pool, checkout, args.git_repository, args.git_revision, token, args.notify)
    where = f"from {checkout}" if checkout else "cloning the repository (amlops_git_repository) on each run"
    from deployments.stack import WORKER_PREFETCH_SECONDS

    start = f"prefect worker start --pool {args.work_pool} --prefetch-seconds {WORKER_PREFETCH_SECONDS}"
    print(f"Registered {len(ids)} deployments on work pool {args.work_pool}, {where}; start a worker: {start}")
    return 0


def _source(args: argparse.Namespace) -> int:
    """Where workers clone the code: the variables and the token block the deployments' pull step reads."""
    from deployments.fleet import CHECKOUT
    from deployments.source import REPOSITORY_VARIABLE, head_commit, set_source

    revision = args.git_revision if args.git_revision is not None else head_commit(CHECKOUT)
    set_source(args.git_repository, revision, os.environ.get("AMLOPS_GIT_TOKEN"))
    print(f"Workers clone {args.git_repository} at {revision or 'the default branch'} (Prefect variable {REPOSITORY_VARIABLE} and its revision).")
    return 0


def _train(args: argparse.Namespace) -> int:
    """Run train-with-retries here: resubmitted from its latest checkpoint after preemption or node failure."""
    from amlops.training import Budgets, CheckpointLocation, attempt_line, time_lost

    workspace, variables = _workspace_id(args.workspace), _pairs(args.env, "--env")
    datastore, _, path = args.checkpoints.partition(":")
    if not datastore or not path:
        raise InvalidInput(f"--checkpoints {args.checkpoints!r} is not DATASTORE:PATH, such as checkpoints:runs/forecast.")
    from flows.train_with_retries import train_with_retries

    budgets = Budgets(infra_retries=args.infra_retries, user_retries=args.user_retries, total_minutes=args.total_minutes, backoff_seconds=args.backoff, escalate_after_preemptions=args.escalate_after)
    state = train_with_retries(
        workspace=workspace, command=args.command, environment=args.environment, compute=args.compute, checkpoint=CheckpointLocation(datastore=datastore, path=path),
        resume_arg=args.resume_arg, instance_count=args.instance_count, lineage=args.lineage, budgets=budgets, dedicated_compute=args.dedicated_compute,
        watch_seconds=args.watch, environment_variables=variables, return_state=True,
    )  # fmt: skip
    outcome = settled(state, "Training did not complete.")
    for a in outcome.attempts:
        print(attempt_line(a))
    print(f"{outcome.outcome}; {time_lost(outcome.attempts)}")
    return 0


def _pending(args: argparse.Namespace) -> int:
    from flows.pauses import list_paused

    runs = list_paused()
    if not runs:
        print("No flow run is waiting for a person.")
    for run in runs:
        print(f"{run.id}  {run.flow_name}/{run.name}  paused {run.paused_at}  timeout {run.timeout_at}")
        print(f"    waits for: {run.form_title} ({', '.join(run.asks)})")
        if run.description:
            print("    " + run.description.strip().replace("\n", "\n    ")[:2000])
    return 0


def _approve(args: argparse.Namespace) -> int:
    decisions = _pairs(args.decide, "--decide")
    from flows.pauses import answer

    answer(args.run_id, approve=not args.reject, approver=args.approver, reason=args.reason, workspace_name=args.workspace_name, decisions=decisions)
    print(f"Resumed flow run {args.run_id}.")
    return 0


def _speed(value: str) -> float:
    """The emulator clock's speed: a positive number, refused before anything starts."""
    try:
        speed = float(value)
    except ValueError:
        speed = 0.0
    if not speed > 0 or speed == float("inf"):
        raise argparse.ArgumentTypeError(f"--speed must be a positive number of emulated seconds per real second, not {value!r}")
    return speed


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="amlops", description="Azure ML operations as Prefect flows.")
    sub = p.add_subparsers(dest="command", required=True)

    e = sub.add_parser("emulator", help="run the local Azure emulator (prints the export lines first)")
    e.add_argument("--host", default="127.0.0.1")
    e.add_argument("--port", type=int, default=8443)
    e.add_argument("--scenario", help="a scenario file (YAML or JSON)")
    e.add_argument("--speed", type=_speed, default=1.0, help="emulated seconds per real second (60: an Azure minute a second): operations and ARM's budget run that fast; exports AMLOPS_TIME_SCALE for the clients")
    e.set_defaults(run=_emulator)

    m = sub.add_parser("move", help="move an Azure ML workspace to another subscription or resource group")
    m.add_argument("--source", required=True, help="the workspace's resource id")
    m.add_argument("--target-subscription", required=True)
    m.add_argument("--target-resource-group", required=True, help="created in the workspace's region if absent")
    move_options(m)
    starter_option(m)
    m.set_defaults(run=_move)

    add_commands(sub)

    d = sub.add_parser("demo", help="a full move of the demo workspace against the emulator")
    d.set_defaults(run=_demo)

    ae = sub.add_parser("approve-endpoints", help="decide a workspace's Pending private endpoint connections")
    ae.add_argument("--workspace", required=True, help="the workspace's resource id")
    allow_list_options(ae)
    ae.add_argument("--timeout", type=int, default=3600, help="seconds to wait for a person")
    ae.add_argument("--poll", type=int, default=10, help="seconds between checks for an answer")
    starter_option(ae)
    ae.set_defaults(run=_approve_endpoints)

    sv = sub.add_parser("serve", help="serve all deployments with their schedules (set AMLOPS_FLEET_SUBSCRIPTIONS)")
    sv.set_defaults(run=_serve)

    dp = sub.add_parser("deploy", help="register all deployments on a work pool (set AMLOPS_FLEET_SUBSCRIPTIONS)")
    dp.add_argument("--work-pool", required=True)
    dp.add_argument("--git-repository", help="the repository workers clone (stored in the Prefect variable amlops_git_repository; a token from AMLOPS_GIT_TOKEN)")
    dp.add_argument("--git-revision", help="the commit workers run (default: this checkout's HEAD with --git-repository)")
    dp.add_argument("--checkout", help="instead of cloning: the directory workers share with this machine")
    dp.add_argument("--notify", action="append", default=[], metavar="TYPE/NAME", help="a Prefect notification (or webhook) block on-call watches, repeatable")
    dp.set_defaults(run=_deploy)

    so = sub.add_parser("source", help="set the repository and revision every worker clones (before `prefect deploy --all`)")
    so.add_argument("--git-repository", required=True, help="a URL git clones; an access token from AMLOPS_GIT_TOKEN goes to the Secret block amlops-git-token")
    so.add_argument("--git-revision", help="the commit workers run (default: this checkout's HEAD; empty: the default branch)")
    so.set_defaults(run=_source)

    tr = sub.add_parser("train", help="run a command job that survives preemption, resuming from its latest checkpoint")
    tr.add_argument("--workspace", required=True)
    tr.add_argument("--command", required=True)
    tr.add_argument("--environment", required=True, help="azureml:<name>:<version>")
    tr.add_argument("--compute", required=True)
    tr.add_argument("--checkpoints", required=True, metavar="DATASTORE:PATH")
    tr.add_argument("--resume-arg", default="--resume-from")
    tr.add_argument("--instance-count", type=int, default=1)
    tr.add_argument("--lineage", help="defaults to a hash of workspace, command, compute and checkpoint path")
    tr.add_argument("--infra-retries", type=int, default=5)
    tr.add_argument("--user-retries", type=int, default=0)
    tr.add_argument("--total-minutes", type=float, default=24 * 60)
    tr.add_argument("--backoff", type=float, default=30)
    tr.add_argument("--escalate-after", type=int, help="preemptions before moving to --dedicated-compute")
    tr.add_argument("--dedicated-compute")
    tr.add_argument("--watch", type=float, default=30, help="seconds between status reads")
    tr.add_argument("--env", action="append", default=[], metavar="NAME=VALUE")
    tr.set_defaults(run=_train)

    pe = sub.add_parser("pending", help="flow runs waiting for a person, and what each waits for")
    pe.set_defaults(run=_pending)

    a = sub.add_parser("approve", help="answer a paused flow run from the terminal")
    a.add_argument("run_id")
    a.add_argument("--approver", required=True)
    a.add_argument("--reason", default="")
    a.add_argument("--reject", action="store_true", help="reject the plan instead of approving it")
    a.add_argument("--workspace-name", default="", help="for a plan: the workspace name typed exactly")
    a.add_argument("--decide", action="append", default=[], metavar="CONNECTION=approve|reject", help="for private endpoints, repeatable")
    a.set_defaults(run=_approve)
    return p


def main(argv: list[str] | None = None) -> int:
    """The one place an outcome becomes an exit code. Anything not ours propagates: a bug, with its traceback."""
    args = parser().parse_args(argv)
    terminal.quiet()
    try:
        return int(args.run(args))
    except AmlopsError as err:
        sys.stdout.flush()
        heading = " ".join(getattr(err, "__notes__", []))
        print(f"\namlops: {heading + ' ' if heading else ''}{err}", file=sys.stderr)
        return err.exit_code


if __name__ == "__main__":
    sys.exit(main())
