"""amlops rehearse: the README's two commands, a refusal the real move would meet, work left for a person,
and bad input refused before anything starts. Each rehearsal runs in a private emulator of its own."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
import yaml

from app.cli import main
from tests.conftest import SUB, TARGET_SUB, WS_ID, Env

README = Path(__file__).parents[2] / "README.md"


def readme_commands(scenario: Path) -> list[list[str]]:
    """The commands of the README's "Rehearse your own workspace", placeholders filled in with the demo's."""
    section = README.read_text().split("## Rehearse your own workspace", 1)[1]
    block = section.split("```bash", 1)[1].split("```", 1)[0].replace("\\\n", " ")
    values = {"<sub>": SUB, "<rg>": "ml-prod", "<name>": "ml-prod-ws", "<sub2>": TARGET_SUB, "<rg2>": "ml-moved", "my-workspace.yaml": str(scenario)}
    commands = []
    for line in filter(None, map(str.strip, block.splitlines())):
        for placeholder, value in values.items():
            line = line.replace(placeholder, value)
        assert "<" not in line, f"unfilled placeholder in {line!r}"
        commands.append(shlex.split(line))
    return commands


@pytest.fixture
def snapshot_of_demo(demo: Env, flows_env: Env, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    out = tmp_path / "demo.yaml"
    for name, value in demo.emulator.env().items():
        monkeypatch.setenv(name, value)
    assert main(["snapshot", "--workspace", WS_ID, "--out", str(out)]) == 0
    return out


def test_the_readme_commands_snapshot_and_rehearse_a_move_that_would_complete(
    demo: Env, flows_env: Env, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    for name, value in demo.emulator.env().items():
        monkeypatch.setenv(name, value)
    scenario = tmp_path / "my-workspace.yaml"
    snapshot, rehearse = readme_commands(scenario)
    assert snapshot[:2] == ["amlops", "snapshot"] and rehearse[:2] == ["amlops", "rehearse"]
    mark = demo.control.mark()
    assert main(snapshot[1:]) == 0
    assert main(rehearse[1:]) == 0
    out = capfd.readouterr().out + caplog.text  # the flow's prints go through Prefect's run logger
    assert "### Compute (deleted or detached before the move) (4)" in out  # the plan
    assert re.search(r"\| ok \| compute \| alice-ci \| ComputeInstance", out)  # the verification
    assert "MISMATCH" not in out and "exit code 0 (the move would complete)" in out
    assert demo.control.writes(mark) == [], "the rehearsal moved its private copy, never the workspace it read"


def test_a_target_without_the_providers_is_refused_before_any_write(snapshot_of_demo: Path, capfd: pytest.CaptureFixture[str]) -> None:
    code = main(["rehearse", "--scenario", str(snapshot_of_demo), "--target-subscription", TARGET_SUB, "--target-resource-group", "ml-moved",
                 "--target-unregistered-provider", "Microsoft.Notebooks"])  # fmt: skip
    captured = capfd.readouterr()
    assert code == 3
    assert "[ProvidersNotRegistered]" in captured.err and "az provider register -n Microsoft.Notebooks" in captured.err
    assert "except Microsoft.Notebooks" in captured.out  # the assumption about the target is said
    assert re.search(r"ARM requests, 0 of them writes", captured.out)


def test_a_move_that_leaves_work_for_a_person_exits_4(snapshot_of_demo: Path, caplog: pytest.LogCaptureFixture) -> None:
    code = main(["rehearse", "--scenario", str(snapshot_of_demo), "--target-subscription", TARGET_SUB, "--target-resource-group", "ml-moved", "--no-recreate-compute"])
    out = caplog.text
    assert code == 4
    assert re.search(r"\| MISMATCH \| compute \| alice-ci \| [^|]*\| missing \|", out)


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["--scenario", "/nonexistent/scenario.yaml"], "is not a file"),
        (["--scenario", "{scenario}", "--workspace", WS_ID.replace("ml-prod-ws", "other-ws")], "is not in"),
        (["--scenario", "{scenario}", "--target-subscription", "not-a-guid"], "is not a GUID"),
        (["--scenario", "{bad_compute}"], "cannot be loaded: InvalidIdleTimeBeforeShutdown"),
    ],
)
def test_bad_input_is_refused_before_anything_starts(demo: Env, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str], argv: list[str], says: str) -> None:
    from amlops.emulator import server

    scenario = tmp_path / "s.yaml"
    scenario.write_text(f"workspaces:\n  - id: {WS_ID}\n")
    bad_compute = tmp_path / "bad.yaml"  # an idle shutdown Azure refuses (5 minutes)
    bad_compute.write_text(yaml.safe_dump({"subscriptions": [{"id": SUB}], "resource_groups": [{"id": WS_ID.split("/providers/")[0], "location": "westeurope"}],
                                           "workspaces": [{"id": WS_ID, "computes": [{"name": "ci", "properties": {"computeType": "ComputeInstance",
                                                                                                                 "properties": {"vmSize": "STANDARD_DS3_V2", "idleTimeBeforeShutdown": "PT5M"}}}]}]}))  # fmt: skip
    started: list[object] = []
    monkeypatch.setattr(server.Emulator, "start", lambda self: started.append(self))
    args = [a.replace("{scenario}", str(scenario)).replace("{bad_compute}", str(bad_compute)) for a in argv]
    if "--target-subscription" not in args:
        args += ["--target-subscription", TARGET_SUB]
    assert main(["rehearse", *args, "--target-resource-group", "ml-moved"]) == 2
    assert says in capfd.readouterr().err
    assert started == [], "no emulator was started for bad input"
