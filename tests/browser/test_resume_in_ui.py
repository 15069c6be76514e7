"""A person resumes paused runs in the real Prefect UI (Debian's Chromium, driven by Playwright).

This proves the approval forms render as forms an engineer can use, and that what is typed
there reaches the flow: a plan approved in the UI lets the move proceed; connection decisions
picked in the UI are what the emulator ends up with.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, sync_playwright

from amlops.azure import network, workspaces
from amlops.emulator import Emulator
from amlops.models import ResourceId
from deployments.stack import start_prefect_server
from tests import prefect_db
from tests.conftest import TARGET_SUB, WS_ID, Env, demo_scenario

ROOT = Path(__file__).parents[2]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def ui_server(tmp_path_factory: pytest.TempPathFactory, prefect_migrated: Path) -> Iterator[str]:
    """`prefect server start` with its UI, as an on-call engineer would open it; its database (the default one in
    its PREFECT_HOME) starts as the run's migrated empty one (tests/prefect_db.py)."""
    assert os.path.exists(CHROMIUM), "Debian's chromium is missing: `make test` installs it (make browser-deps)"
    home = tmp_path_factory.mktemp("prefect")
    prefect_db.copy_into(prefect_migrated, home, "prefect.db")
    env = {**os.environ, "PREFECT_HOME": str(home), "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
    env.pop("PREFECT_API_URL", None)
    server, port = start_prefect_server(env, tmp_path_factory.mktemp("logs") / "server.log", timeout=90)
    try:
        yield f"http://127.0.0.1:{port}/api"
    finally:
        server.terminate()
        server.wait(timeout=30)


def _cli(api: str, emulator: Emulator, state_dir: Path, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, **emulator.env(), "PREFECT_API_URL": api, "AMLOPS_STATE_DIR": str(state_dir)}
    return subprocess.Popen([sys.executable, "-m", "app.cli", *args], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _paused_run(api: str, flow_name: str, timeout: float = 90) -> str:
    deadline = time.monotonic() + timeout
    body = {"flow_runs": {"state": {"type": {"any_": ["PAUSED"]}}}, "flows": {"name": {"any_": [flow_name]}}, "limit": 10, "offset": 0, "sort": "START_TIME_DESC"}
    while time.monotonic() < deadline:
        runs = httpx.post(f"{api}/flow_runs/filter", json=body, timeout=10).json()
        if runs:
            return runs[0]["id"]
        time.sleep(0.5)
    raise AssertionError(f"no {flow_name} run paused")


def _open_resume_form(page: Page, api: str, run_id: str) -> Any:
    page.goto(f"{api.removesuffix('/api')}/runs/flow-run/{run_id}")
    page.get_by_role("button", name="Resume").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_text("Resume Flow Run").wait_for()
    return dialog


def _field(dialog: Any, label: str) -> Any:
    return dialog.locator(".p-label", has=dialog.page.locator(".schema-form-property__label", has_text=label))


def _browser() -> Any:
    playwright = sync_playwright().start()
    return playwright, playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)


def _finish(proc: subprocess.Popen[str], timeout: float = 120) -> tuple[int, str]:
    out, _ = proc.communicate(timeout=timeout)
    return proc.returncode, out


def test_private_endpoint_decisions_made_in_the_ui_reach_azure(env: Env, ui_server: str, tmp_path: Path) -> None:
    spec = demo_scenario()
    hub = "/subscriptions/11111111-1111-1111-1111-111111111111/resourceGroups/hub/providers/Microsoft.Network/privateEndpoints/pe-hub"
    partner = "/subscriptions/44444444-4444-4444-4444-444444444444/resourceGroups/partner/providers/Microsoft.Network/privateEndpoints/pe-partner"
    spec["workspaces"][0]["private_endpoint_connections"] += [
        {"name": "hub-new", "private_endpoint": hub, "status": "Pending"},
        {"name": "partner-new", "private_endpoint": partner, "status": "Pending"},
    ]
    env.control.load(spec)
    proc = _cli(ui_server, env.emulator, tmp_path, "approve-endpoints", "--workspace", WS_ID, "--timeout", "120", "--poll", "1")
    run_id = _paused_run(ui_server, "approve-private-endpoints")
    playwright, browser = _browser()
    try:
        page = browser.new_page(viewport={"width": 1400, "height": 1100})
        dialog = _open_resume_form(page, ui_server, run_id)
        for connection, verdict in (("hub-new", "approve"), ("partner-new", "reject")):
            _field(dialog, connection).locator("button.p-select-button__control").click()
            page.keyboard.press("ArrowDown")  # opens the listbox, as for a keyboard user
            page.get_by_role("option", name=verdict, exact=True).click()
        _field(dialog, "Approver").locator("textarea").fill("oncall-dana")
        _field(dialog, "Reason").locator("textarea").fill("INC-42 via the UI")
        page.screenshot(path=str(tmp_path / "form.png"))
        dialog.get_by_role("button", name="Submit").click()
        code, out = _finish(proc)
    finally:
        browser.close()
        playwright.stop()
    assert code == 0, out
    assert "hub-new: approve by oncall-dana via person -> Approved" in out and "partner-new: reject by oncall-dana via person -> Rejected" in out
    statuses = {c.name: c.status for c in network.list_connections(env.clients, ResourceId.parse(WS_ID))}
    assert (statuses["hub-new"], statuses["partner-new"]) == ("Approved", "Rejected")


def test_a_plan_approved_in_the_ui_lets_the_move_proceed(env: Env, ui_server: str, tmp_path: Path) -> None:
    env.load_demo()
    proc = _cli(
        ui_server, env.emulator, tmp_path, "move", "--source", WS_ID, "--target-subscription", TARGET_SUB, "--target-resource-group", "ml-moved",
        "--approve-private-endpoints-as", "oncall-dana", "--approval-timeout", "120", "--approval-poll", "1",
    )  # fmt: skip
    run_id = _paused_run(ui_server, "move-workspace")
    mark = env.control.mark()
    playwright, browser = _browser()
    try:
        page = browser.new_page(viewport={"width": 1400, "height": 1100})
        dialog = _open_resume_form(page, ui_server, run_id)
        dialog.get_by_text("Move plan").first.wait_for(state="visible")  # the plan is rendered in the form
        dialog.get_by_text("alice-ci").first.wait_for(state="visible")
        assert env.control.writes(mark) == [], "nothing is written while the plan waits"
        _field(dialog, "Approve").locator("[role=switch]").click()
        _field(dialog, "Approver").locator("textarea").fill("oncall-dana")
        _field(dialog, "Reason").locator("textarea").fill("CHG-77")
        _field(dialog, "Workspace Name").locator("textarea").fill("ml-prod-ws")
        dialog.get_by_role("button", name="Submit").click()
        code, out = _finish(proc, timeout=180)
    finally:
        browser.close()
        playwright.stop()
    assert code == 0, out
    assert "completed" in out
    moved = ResourceId.parse(WS_ID).moved_to(TARGET_SUB, "ml-moved")
    assert workspaces.get_workspace(env.clients, moved).id == str(moved)
