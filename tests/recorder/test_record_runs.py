"""AMLOPS_RECORD against the emulator: real runs recorded with secrets planted where Azure keeps them; no secret and
no raw id in any recorded byte; the recording replayed against a fresh emulator answers as it was recorded."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

from amlops.azure import recording
from amlops.emulator import Emulator
from amlops.emulator.control_client import EmulatorControl
from amlops.fleet import Selector
from amlops.models import ResourceId
from amlops.recording_sanitise import GUID, PLACEHOLDER_PREFIX, Sanitiser, sanitise_scenario
from amlops.training import Budgets, CheckpointLocation
from flows.compute_power import stop_computes
from flows.move_workspace import move_workspace
from flows.train_with_retries import train_with_retries
from tests.conftest import AZURITE_KEY, SUB, TARGET_SUB, WS_ID, Env, demo_scenario
from tests.flows.conftest import SCRIPT, move_args
from tests.recorded.replay import Accepted, origin, replay_ours
from tests.recorder.conftest import SALT, everything, files

ROOT = Path(__file__).parents[2]
TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
SP_CLIENT = "3c1d9f7e-5b2a-4e8d-9f6c-1a2b3c4d5e6f"
PLANTED = {
    "account key": "UExBTlRFRC1hY2NvdW50LWtleS00MjQy",
    "sas signature": "PLANTEDsasSignature%3D",
    "service principal secret": "PLANTED~sp~secret~Q8x",
    "emulator bearer token": "emulator-token",  # what EmulatorCredential hands azure-core's bearer policy
    "emulator workspace key": "ZW11bGF0b3Ita2V5",  # what the emulator's listKeys and default datastores hand out
}
IDS = {"source subscription": SUB, "target subscription": TARGET_SUB, "tenant": TENANT, "alice": "aaaaaaaa-0000-0000-0000-000000000001",
       "team group": "bbbbbbbb-0000-0000-0000-000000000009", "service principal": SP_CLIENT}  # fmt: skip


# Differences the replay accepts, each with its reason.
ACCEPTED = (Accepted(r"^/subscriptions/[^/?]+\?", "body.displayName", "the emulator names a subscription after its id's first 8 characters; the replay's ids are placeholders"),)


def planted_scenario() -> dict[str, Any]:
    """The demo, its datastores holding the planted secrets: an account key, a SAS and a service principal's."""
    spec = demo_scenario()
    stores = {d["name"]: d for d in spec["workspaces"][0]["datastores"]}
    stores["curated"]["properties"]["credentials"]["secrets"]["key"] = PLANTED["account key"]
    stores["checkpoints"]["properties"]["credentials"]["secrets"]["key"] = PLANTED["account key"]
    stores["raw-landing"]["properties"]["credentials"]["secrets"]["sasToken"] = f"sv=2024-01-01&se=2030-01-01&sig={PLANTED['sas signature']}"
    spec["workspaces"][0]["datastores"].append({"name": "sp-store", "properties": {
        "datastoreType": "AzureBlob", "accountName": "mlprodstorage", "containerName": "sp", "endpoint": "core.windows.net", "protocol": "https",
        "subscriptionId": SUB, "resourceGroup": "ml-prod",
        "credentials": {"credentialsType": "ServicePrincipal", "clientId": SP_CLIENT, "tenantId": TENANT, "authorityUrl": "https://login.microsoftonline.com",
                        "resourceUrl": "https://storage.azure.com/", "secrets": {"secretsType": "ServicePrincipal", "clientSecret": PLANTED["service principal secret"]}}}})  # fmt: skip
    return spec


def _no_secret_and_no_raw_id(directory: Path, also: dict[str, str] | None = None) -> str:
    text = everything(directory)
    assert text, "nothing was recorded"
    for name, secret in {**PLANTED, **(also or {})}.items():
        assert secret not in text, f"the {name} reached a recording"
    lower = text.lower()
    for name, real in IDS.items():
        assert real.lower() not in lower, f"the {name}'s id reached a recording"
    return text


def test_a_recorded_move_holds_no_secret_replaces_ids_consistently_and_replays_identically(flows_env: Env, recorded_dir: Path) -> None:
    spec = planted_scenario()
    flows_env.control.load(spec)
    flows_env.control.settings(throttle={"enabled": False})  # the replay sends at full speed: neither run meets ARM's budget
    mark = flows_env.control.mark()
    state = move_workspace(**move_args(), return_state=True)
    assert state.is_completed(), state.result(raise_on_failure=False)

    [rec] = files(recorded_dir)
    text = _no_secret_and_no_raw_id(recorded_dir)
    entries = rec["Entries"]
    assert len(entries) == len(flows_env.control.requests(mark)), "every request the emulator saw, through every client (ARM, MLClient, Graph, run history)"
    assert len(entries) > 100 and {e["RequestMethod"] for e in entries} >= {"GET", "PUT", "POST", "DELETE"}
    assert all("Authorization" not in e["RequestHeaders"] for e in entries)
    assert any(e["RequestUri"].endswith("/listSecrets?api-version=2024-10-01") or "/listSecrets?" in e["RequestUri"] for e in entries), "the re-point read its secrets"

    # The same id has the same placeholder in every place it appears: in the URIs, the bodies and the headers.
    sanitiser = Sanitiser(SALT.encode())
    for name, real in IDS.items():
        if name == "service principal":
            continue
        assert sanitiser.placeholder(real) in text, f"the {name}'s placeholder is missing"
    source, target = sanitiser.placeholder(SUB), sanitiser.placeholder(TARGET_SUB)
    uris = [e["RequestUri"] for e in entries]
    assert any(f"/subscriptions/{source}/" in u for u in uris) and any(f"/subscriptions/{target}/" in u for u in uris)
    moved = next(e for e in entries if e["RequestUri"].split("?")[0].endswith("/moveResources"))
    assert moved["RequestBody"]["targetResourceGroup"] == f"/subscriptions/{target}/resourceGroups/ml-moved"
    alice = sanitiser.placeholder(IDS["alice"])
    assert any(alice in json.dumps(e["ResponseBody"]) for e in entries if "/roleAssignments" in e["RequestUri"])
    assert any(alice in json.dumps(e["ResponseBody"]) for e in entries if "/computes" in e["RequestUri"]), "the assigned user of an instance, the same placeholder"
    assert {g.lower() for g in GUID.findall(text) if g.lower().startswith(PLACEHOLDER_PREFIX)} >= {source, target, alice}

    # Replay: a fresh emulator holding the same scenario, its ids mapped as the recording maps them.
    with Emulator() as fresh:
        control = EmulatorControl(fresh.base_url, str(fresh.ca_file))
        control.load(sanitise_scenario(sanitiser, spec))
        control.settings(throttle={"enabled": False})
        result = replay_ours(rec, origin(flows_env.emulator.base_url), fresh.base_url, str(fresh.ca_file), sanitiser, ACCEPTED)
    assert result.sent == len(entries) and result.skipped == 0
    assert result.differences == [], "\n".join(result.differences[:20])
    assert any(k.startswith(PLACEHOLDER_PREFIX) for k in result.learned), "a new identity's principal, generated by each emulator"


def test_a_recorded_fleet_stop_replays_identically(flows_env: Env, recorded_dir: Path) -> None:
    sub = "66666666-6666-6666-6666-666666666666"
    rg = f"/subscriptions/{sub}/resourceGroups/fleet"
    ci = lambda name, state: {"name": name, "state": state, "properties": {"computeType": "ComputeInstance", "properties": {"vmSize": "STANDARD_DS3_V2", "idleTimeBeforeShutdown": "PT60M"}}}  # noqa: E731
    spec = {"subscriptions": [{"id": sub, "region": "eastus", "tenant": TENANT}], "resource_groups": [{"id": rg, "location": "eastus"}],
            "workspaces": [{"id": f"{rg}/providers/Microsoft.MachineLearningServices/workspaces/team-a", "location": "eastus",
                            "computes": [ci("a-alice", "Running"), ci("a-bob", "Stopped"), ci("a-carol", "Running")]}]}  # fmt: skip
    flows_env.control.load(spec)
    flows_env.control.settings(throttle={"enabled": False})
    report = stop_computes(selector=Selector(subscriptions=[sub]))
    assert {o.compute: o.result for o in report.outcomes} == {"a-alice": "stopped", "a-bob": "already", "a-carol": "stopped"}

    [rec] = files(recorded_dir)
    assert sub not in everything(recorded_dir)
    assert any(e["RequestUri"].split("?")[0].endswith("/a-alice/stop") for e in rec["Entries"])
    sanitiser = Sanitiser(SALT.encode())
    with Emulator() as fresh:
        control = EmulatorControl(fresh.base_url, str(fresh.ca_file))
        control.load(sanitise_scenario(sanitiser, spec))
        control.settings(throttle={"enabled": False})
        result = replay_ours(rec, origin(flows_env.emulator.base_url), fresh.base_url, str(fresh.ca_file), sanitiser)
    assert result.sent == len(rec["Entries"]) > 0
    assert result.differences == [], "\n".join(result.differences[:20])


def test_a_recorded_training_run_keeps_its_blob_reads_and_no_key(training: Env, recorded_dir: Path) -> None:
    lineage = f"fc-{uuid.uuid4().hex[:6]}"
    training.control.schedule_job_end(f"{lineage}-001", "preempt", after=1.6, partial=True)
    args = {"workspace": WS_ID, "command": "python train.py", "environment": "azureml:forecast-env:1", "compute": "gpu-cluster",
            "checkpoint": CheckpointLocation(datastore="checkpoints", path="runs/forecast"), "lineage": lineage,
            "budgets": Budgets(backoff_seconds=0), "watch_seconds": 0.1, "environment_variables": SCRIPT}  # fmt: skip
    state = train_with_retries(**args, return_state=True)
    assert state.is_completed(), state.result(raise_on_failure=False)
    [rec] = files(recorded_dir)
    blob = [e for e in rec["Entries"] if "restype=container" in e["RequestUri"] and "comp=list" in e["RequestUri"]]
    assert blob, "the checkpoint listings are recorded"
    assert all("Authorization" not in e["RequestHeaders"] and "x-ms-date" not in e["RequestHeaders"] for e in blob)
    jobs = [e for e in rec["Entries"] if e["RequestMethod"] == "PUT" and "/jobs/" in e["RequestUri"]]
    assert len(jobs) == 2, "the preempted attempt and its resubmission"
    _no_secret_and_no_raw_id(recorded_dir, {"Azurite account key": AZURITE_KEY, "demo account key": "ZGVtby1hY2NvdW50LWtleQ=="})


def test_a_recorder_that_cannot_write_warns_once_and_the_run_goes_on(flows_env: Env, tmp_path: Path, monkeypatch: Any, caplog: Any) -> None:
    from amlops.azure import computes
    from tasks import common

    blocked = tmp_path / "not-a-directory"
    blocked.write_text("a file where the recordings should go")
    monkeypatch.setenv(recording.ENV, str(blocked))
    common.clients.cache_clear()
    flows_env.load_demo()
    clients = common.clients()
    ws = ResourceId.parse(WS_ID)
    with caplog.at_level("WARNING", logger="amlops.recording"):
        for _ in range(3):
            assert len(computes.list_computes(clients, ws)) == 4
            recording.recorder().flush()  # type: ignore[union-attr]  # AMLOPS_RECORD is set
    warnings = [r for r in caplog.records if r.name == "amlops.recording"]
    assert len(warnings) == 1, "warned once, not at every write"
    assert any(name in warnings[0].getMessage() for name in ("NotADirectoryError", "FileExistsError"))
    common.clients.cache_clear()


def test_amlops_snapshot_in_its_own_process_records_its_reads_with_no_secret_and_the_runs_placeholders(env: Env, tmp_path: Path) -> None:
    from tests.rehearse import rich

    env.control.load(rich.scenario())
    directory = tmp_path / "recordings"
    mark = env.control.mark()
    child = {**os.environ, **env.emulator.env(), recording.ENV: str(directory), recording.SALT_ENV: SALT}
    done = subprocess.run([sys.executable, "-m", "app.cli", "snapshot", "--workspace", rich.WS, "--target-subscription", rich.TARGET_SUB,
                           "--target-resource-group", "ml-rich-moved", "--out", str(tmp_path / "rich.yaml")],
                          cwd=ROOT, env=child, capture_output=True, text=True, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    [path] = directory.glob("amlops-*.json")
    assert _pid_of(path) != str(os.getpid()), "the snapshot's own process wrote it"
    text = everything(directory)
    for what, secret in rich.SECRETS.items():
        assert secret not in text, f"the {what} reached the recording"
    ids = {"source": rich.SUB, "hub": rich.HUB_SUB, "target": rich.TARGET_SUB, "tenant": rich.TENANT, "identity": "22220000-0000-0000-0000-000000000001",
           "user-assigned identity": "11110000-0000-0000-0000-000000000001", "service principal": "33330000-0000-0000-0000-000000000001",
           "group": "55550000-0000-0000-0000-000000000001", "carol": "0000000c-0000-0000-0000-000000000001"}  # fmt: skip
    for what, real in ids.items():
        assert real not in text.lower(), f"the {what} id reached the recording"
    sanitiser = Sanitiser(SALT.encode())
    assert sanitiser.placeholder(rich.SUB) in text and sanitiser.placeholder(rich.TENANT) in text, "the parent's salt reached the child: the same placeholders"
    entries = json.loads(path.read_text())["Entries"]
    assert {e["RequestMethod"] for e in entries} == {"GET"}, "a snapshot only reads, and its recording says so"
    assert len(entries) == len(env.control.requests(mark)), "every request the emulator saw is in the recording"


def _pid_of(path: Path) -> str:
    return path.stem.rsplit("-", 1)[1]
