"""``amlops snapshot`` and ``amlops rehearse``: a real workspace written down as a scenario, and its move
replayed against a private emulator loaded with it, on this machine, before anyone presses go.

Application layer: ``rehearse`` runs the move-workspace flow. Bad input is refused before anything starts.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from amlops.errors import AmlopsError, InvalidInput
from amlops.models import ResourceId, check_resource_group, check_subscription
from app.running import move_kwargs, move_options, run_move

REHEARSAL_APPROVER = "rehearsal"


def add_commands(sub: Any) -> None:
    """Register ``snapshot`` and ``rehearse`` (which takes the options ``amlops move`` takes)."""
    s = sub.add_parser("snapshot", help="read everything a move of a workspace touches into an emulator scenario (reads only, no secrets)")
    s.add_argument("--workspace", required=True, help="the workspace's resource id")
    s.add_argument("--out", required=True, help="the scenario file to write (.yaml, .yml or .json)")
    s.add_argument("--target-subscription", help="also read the target subscription (tenant, provider registrations, locks, Azure Policy)")
    s.add_argument("--target-resource-group", help="also read the target resource group, if it exists (resources, locks, your permissions there)")
    s.set_defaults(run=snapshot)

    r = sub.add_parser("rehearse", help="replay the move of a snapshot's workspace against a private emulator")
    r.add_argument("--scenario", required=True, help="a scenario file, as amlops snapshot writes it")
    r.add_argument("--workspace", help="the workspace to move, when the scenario holds several")
    r.add_argument("--target-subscription", required=True)
    r.add_argument("--target-resource-group", required=True)
    r.add_argument("--target-tenant", help="the target subscription's tenant, when the scenario does not declare it (default: the source's)")
    r.add_argument("--target-unregistered-provider", action="append", default=[], metavar="NAMESPACE", help="a provider the target subscription has not registered (repeatable)")
    r.add_argument("--keep", action="store_true", help="keep the emulator running beside a Prefect server; a person answers the approvals in the UI")
    move_options(r)
    r.set_defaults(run=rehearse)


# -- amlops snapshot


def snapshot(args: argparse.Namespace) -> int:
    from amlops.azure.clients import Clients
    from amlops.azure.reads import read_workspace
    from amlops.snapshot import build_scenario, summary

    workspace = ResourceId.parse(args.workspace).require_workspace()
    out = Path(args.out)
    if out.suffix not in (".yaml", ".yml", ".json"):
        raise InvalidInput(f"--out {args.out!r} must end in .yaml, .yml or .json.")
    if not out.parent.is_dir():
        raise InvalidInput(f"--out {args.out!r}: directory {out.parent} does not exist.")
    target_sub = check_subscription(args.target_subscription, "target subscription") if args.target_subscription else None
    target_rg = check_resource_group(args.target_resource_group) if args.target_resource_group else None
    if target_rg and not target_sub:
        raise InvalidInput("--target-resource-group needs --target-subscription.")
    clients = Clients()
    started = time.perf_counter()
    reads = read_workspace(clients, workspace, target_sub, target_rg)
    spec = build_scenario(reads, source=clients.target.url)
    write_scenario(out, spec)
    counts = ", ".join(f"{n} {what}" for what, n in summary(spec).items())
    print(f"Snapshot of {workspace} written to {out} in {time.perf_counter() - started:.1f} s (reads only; secrets are placeholders):\n  {counts}")
    for line in unknown_lines(spec):
        print(f"  {line}")
    return 0


def unknown_lines(spec: dict[str, Any]) -> list[str]:
    """What the snapshot could not read or judge, said as what the rehearsal therefore cannot tell."""
    return [f"unknown: {u['what']}: the rehearsal cannot tell {u['unknown']} ({u['why']})" for u in (spec.get("snapshot") or {}).get("unknowns") or []]


def write_scenario(path: Path, spec: dict[str, Any]) -> None:
    if path.suffix == ".json":
        path.write_text(json.dumps(spec, indent=1) + "\n")
        return
    import yaml

    path.write_text(yaml.safe_dump(spec, sort_keys=False, width=200))


# -- amlops rehearse


def rehearse(args: argparse.Namespace) -> int:
    from amlops.rehearsal import rehearsal
    from amlops.snapshot import declare_target, summary

    spec, source = _read_scenario(args.scenario, args.workspace)
    args.target_subscription = check_subscription(args.target_subscription, "target subscription")
    args.target_resource_group = check_resource_group(args.target_resource_group)
    if not args.keep:  # unattended: approvals answered by policy flags; with --keep a person answers in the UI
        args.approve_plan_as = args.approve_plan_as or REHEARSAL_APPROVER
        args.approve_private_endpoints_as = args.approve_private_endpoints_as or REHEARSAL_APPROVER
    if args.approve_plan_as:
        args.confirm_workspace = args.confirm_workspace or source.name
    spec, notes = declare_target(spec, source.subscription, args.target_subscription, args.target_tenant, args.target_unregistered_provider)
    _check_loads(args.scenario, spec)
    args.source = str(source)
    kwargs = move_kwargs(args)
    meta = spec.get("snapshot") or {}
    print(f"Rehearsing the move of {source}\n  to subscription {args.target_subscription}, resource group {args.target_resource_group}")
    if meta:
        print(f"  snapshot taken {meta.get('taken_at')} from {meta.get('source') or 'an unnamed source'}")
    print("  holds " + ", ".join(f"{n} {what}" for what, n in summary(spec).items() if n))
    for note in notes:
        print(f"  note: {note}")
    unknown = unknown_lines(spec)
    for line in unknown:
        print(f"  {line}")
    with rehearsal(spec) as r, _prefect_server(args.keep) as ui:
        _forget_clients()
        print(f"  private emulator at {r.emulator.base_url}" + (f"; Prefect UI at {ui}" if ui else "") + "\n")
        started = time.perf_counter()
        outcome: AmlopsError | None = None
        try:
            code = run_move(kwargs)
        except AmlopsError as err:  # a refusal or work left: summed up here, then said last by the CLI
            code, outcome = err.exit_code, err
        finally:
            _forget_clients()
        requests, writes = r.counts()
        print(f"\nRehearsal ended with exit code {code} ({OUTCOMES.get(code, 'failed')}) in {time.perf_counter() - started:.1f} s: {requests} ARM requests, {writes} of them writes, all against the private emulator.")
        if unknown:
            print(f"It holds as far as the snapshot could see: {len(unknown)} unknown(s) listed above may still refuse or change the real move.")
        if args.keep:
            _wait_for_person(r, ui)
    if outcome is not None:
        raise outcome
    return code


OUTCOMES = {0: "the move would complete", 2: "bad input", 3: "the real move would be refused", 4: "the move would leave work for a person"}


def _read_scenario(path: str, workspace: str | None) -> tuple[dict[str, Any], ResourceId]:
    from amlops.emulator import scenario

    file = Path(path)
    if not file.is_file():
        raise InvalidInput(f"--scenario {path!r} is not a file; write one with amlops snapshot.")
    try:
        spec = scenario.read(file)
    except Exception as err:  # any parse failure is the file's fault
        raise InvalidInput(f"--scenario {path!r} is not a readable YAML or JSON scenario: {err}") from err
    if not isinstance(spec, dict) or not spec.get("workspaces"):
        raise InvalidInput(f"--scenario {path!r} declares no workspace.")
    names = [w["id"] for w in spec["workspaces"]]
    wanted = workspace or (spec.get("snapshot") or {}).get("workspace") or (names[0] if len(names) == 1 else None)
    if wanted is None:
        raise InvalidInput(f"--scenario {path!r} holds {len(names)} workspaces; name one with --workspace: {names}")
    if not any(n.lower() == wanted.lower() for n in names):
        raise InvalidInput(f"--workspace {wanted!r} is not in {path!r}; it holds {names}")
    return spec, ResourceId.parse(wanted).require_workspace()


def _check_loads(path: str, spec: dict[str, Any]) -> None:
    """Load the scenario into a throwaway state first: a file the emulator would refuse is bad input, said now."""
    from amlops.emulator import scenario
    from amlops.emulator.errors import ArmError
    from amlops.emulator.state import State

    try:
        scenario.load(State(), spec)
    except ArmError as err:
        raise InvalidInput(f"--scenario {path!r} cannot be loaded: {err.code}: {err.message}") from err
    except (KeyError, TypeError, ValueError, AttributeError) as err:
        raise InvalidInput(f"--scenario {path!r} is malformed: {type(err).__name__} {err}") from err


def _forget_clients() -> None:
    """The process's SDK clients were built for whatever the environment named before: build them anew."""
    from tasks import common

    common.clients.cache_clear()


@contextmanager
def _prefect_server(wanted: bool) -> Iterator[str | None]:
    """With --keep: a Prefect server of its own (SQLite under the rehearsal's home), its UI for the approvals."""
    if not wanted:
        yield None
        return
    from deployments.stack import start_prefect_server

    home = Path(tempfile.mkdtemp(prefix="amlops-rehearse-server-"))  # for its log, removed with it (a failed start raises with the log's end)
    try:
        process, port = start_prefect_server(dict(os.environ), home / "server.log", timeout=90)
    except BaseException:
        shutil.rmtree(home, ignore_errors=True)
        raise
    api = f"http://127.0.0.1:{port}/api"
    saved = os.environ.get("PREFECT_API_URL")
    try:
        os.environ["PREFECT_API_URL"] = api
        yield f"http://127.0.0.1:{port}"
    finally:
        _drain_prefect()
        if saved is None:
            os.environ.pop("PREFECT_API_URL", None)
        else:
            os.environ["PREFECT_API_URL"] = saved
        process.terminate()
        process.wait(timeout=30)
        shutil.rmtree(home, ignore_errors=True)


def _drain_prefect() -> None:
    """Send the logs and events this process still holds before their server stops: at exit they would
    retry against a server that is gone (as prefect.testing's harness drains before stopping its own)."""
    if "prefect" not in sys.modules:
        return
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker

    try:
        APILogWorker.instance().drain()
    except RuntimeError:  # never started
        pass
    EventsWorker.drain_all(timeout=10)


def _wait_for_person(r: Any, ui: str | None) -> None:
    print(f"\nKept running for you: the emulator at {r.emulator.base_url} and the Prefect UI at {ui}. Point amlops at them with:")
    for name, value in r.env.items():
        print(f"  export {name}={value}")
    print(f"  export PREFECT_API_URL={ui}/api\nPress Ctrl-C to stop both.")
    sys.stdout.flush()

    def stop(*_: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)  # SIGTERM too stops both servers cleanly
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
