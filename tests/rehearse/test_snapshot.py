"""amlops snapshot: reads only, no secret in the file, and a round trip through a second emulator that ARM
reads cannot tell from the original (apart from systemData, etags and secrets)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from amlops.azure.clients import Clients, Target
from amlops.azure.reads import read_workspace
from amlops.emulator import Emulator
from amlops.models import ResourceId
from amlops.snapshot import PLACEHOLDER, WorkspaceReads, name_clashes, relevant_locks, scrub
from app.cli import main
from tests.conftest import Env
from tests.rehearse import rich


def _normalised(reads: WorkspaceReads) -> dict[str, Any]:
    """What ARM said, without what may differ by design: systemData, etags, secret values."""

    def strip(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: strip(v) for k, v in value.items() if k not in ("systemData", "etag")}
        if isinstance(value, list):
            return [strip(v) for v in value]
        return value

    # all a snapshot keeps of the target group, and of the locks listed per subscription
    reads = dataclasses.replace(reads, target_resources=name_clashes(reads), locks=relevant_locks(reads))
    return scrub(strip(json.loads(json.dumps(dataclasses.asdict(reads)))))


def _snapshot(env: Env, monkeypatch: pytest.MonkeyPatch, out: Path, *extra: str) -> int:
    for name, value in env.emulator.env().items():
        monkeypatch.setenv(name, value)
    return main(["snapshot", "--workspace", rich.WS, "--out", str(out), *extra])


@pytest.fixture
def rich_env(env: Env) -> Env:
    env.control.load(rich.scenario())
    return env


def test_round_trip_through_a_second_emulator_is_identical_and_snapshotting_writes_nothing(rich_env: Env, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    out = tmp_path / "rich.yaml"
    mark = rich_env.control.mark()
    assert _snapshot(rich_env, monkeypatch, out, "--target-subscription", rich.TARGET_SUB, "--target-resource-group", "ml-rich-moved") == 0
    sent = rich_env.control.requests(mark)
    assert sent and {r["method"] for r in sent} == {"GET"}, "a snapshot sends GETs only: no write, no listKeys, no listSecrets"
    assert rich_env.control.writes(mark) == []

    spec = yaml.safe_load(out.read_text())
    assert {s["id"] for s in spec["subscriptions"]} == {rich.SUB, rich.HUB_SUB, rich.TARGET_SUB}  # the AKS cluster's hub subscription too
    assert {lk["name"] for lk in spec["locks"]} == {"no-delete", "storage-readonly", "target-no-delete"}  # not the unrelated group's
    assert "20000000-0000-0000-0000-000000000006" not in out.read_text()  # nor its role assignment
    target_group = f"/subscriptions/{rich.TARGET_SUB}/resourceGroups/ml-rich-moved/providers/"
    assert [r["id"] for r in spec["resources"] if r["id"].startswith(target_group)] == [target_group + "Microsoft.Storage/storageAccounts/mlrichstorage"]  # the name clash only
    by_scope = lambda ds: sorted(ds, key=lambda d: d["scope"])  # noqa: E731
    assert by_scope(spec["denied_actions"]) == by_scope(rich.scenario()["denied_actions"])  # as the Permissions API told them, said once each
    assert [(p["name"], p.get("initiative")) for p in spec["policies"]] == [("eu-only", None), ("no-databricks", "landing-zone"), ("no-aks", "landing-zone")]
    assert spec["snapshot"]["unknowns"] == []

    workspace, target = ResourceId.parse(rich.WS), (rich.TARGET_SUB, "ml-rich-moved")
    original = read_workspace(rich_env.clients, workspace, *target)
    with Emulator(scenario_spec=spec) as second:
        copy = read_workspace(Clients(Target("emulator", second.base_url, str(second.ca_file))), workspace, *target)
    a, b = _normalised(original), _normalised(copy)
    for part in a:
        assert a[part] == b[part], f"{part} differs after the round trip"
    # the settings a move must rebuild, present in what was compared
    carol = next(c for c in a["computes"] if c["name"] == "carol-ci")["properties"]["properties"]
    assert len(carol["schedules"]["computeStartStop"]) == 3 and carol["setupScripts"]["scripts"]["startupScript"]["scriptSource"] == "inline"
    assert next(c for c in a["computes"] if c["name"] == "dave-ci")["properties"]["properties"]["state"] == "Stopped"
    assert {s["name"] for s in a["schedules"]} == {"nightly-retrain", "monthly-backfill"}
    assert [d["name"] for d in a["batch_deployments"]["nightly-batch"]] == ["scorer"], "batch endpoints come with their deployments"
    assert {c["properties"]["privateLinkServiceConnectionState"]["status"] for c in a["connections"]} == {"Approved", "Rejected", "Pending"}
    assert a["subscriptions"][2]["providers"]["Microsoft.Notebooks"] == "Registering"
    assert a["permissions"][rich.WS][0]["notActions"] == ["Microsoft.MachineLearningServices/workspaces/computes/delete"]
    assert {d["name"] for d in a["policy_definitions"].values()} == {"eu-only", "landing-zone", "no-databricks", "no-aks"}  # an initiative and its members


def test_each_read_is_sent_once_and_what_the_caller_may_not_read_is_reported_while_the_rest_is_read(rich_env: Env) -> None:
    """The hub subscription (found through the attached AKS cluster) and the key vault refuse every read: the snapshot
    names each refused read once, as unknown, sends no request twice, and still reads everything else."""
    rich_env.control.rules(denied_actions=[{"scope": f"/subscriptions/{rich.HUB_SUB}", "actions": ["*/read"]}, {"scope": rich.VAULT, "actions": ["*/read"]}])
    mark = rich_env.control.mark()
    reads = read_workspace(rich_env.clients, ResourceId.parse(rich.WS), rich.TARGET_SUB, "ml-rich-moved")
    sent = rich_env.control.requests(mark)
    assert len({(r["method"], r["path"]) for r in sent}) == len(sent), "no scope, resource or collection is read twice"
    assignments = "could not read the role assignments at "
    assert {u["what"] for u in reads.unread} == {
        f"could not read subscription {rich.HUB_SUB}", f"could not read the management locks in subscription {rich.HUB_SUB}",
        f"could not read resource group {rich.AKS_RG}", f"could not read resource {rich.CLUSTER}", f"could not read resource {rich.VAULT}",
        assignments + f"/subscriptions/{rich.HUB_SUB}", assignments + rich.AKS_RG, assignments + rich.CLUSTER, assignments + rich.VAULT,
    }  # fmt: skip
    assert len([r for r in sent if r["status"] == 403]) == len(reads.unread), "each refused read is asked once and reported once"
    assert all("AuthorizationFailed" in u["why"] for u in reads.unread)
    hub = next(s for s in reads.subscriptions if s.id == rich.HUB_SUB)
    assert not hub.readable and {s.id for s in reads.subscriptions if s.readable} == {rich.SUB, rich.TARGET_SUB}
    assert {r["id"] for r in reads.resources} == {rich.STORAGE, rich.REGISTRY, rich.INSIGHTS}, "the readable associated resources"
    assert reads.computes and reads.datastores and reads.schedules and reads.policy_definitions, "the rest of the snapshot was read"

def test_no_secret_reaches_the_file(rich_env: Env, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    out = tmp_path / "rich.json"
    assert _snapshot(rich_env, monkeypatch, out) == 0
    text = out.read_text()
    for what, secret in rich.SECRETS.items():
        assert secret not in text, f"the {what} reached the snapshot"
    datastores = {d["name"]: d["properties"]["credentials"] for d in json.loads(text)["workspaces"][0]["datastores"]}
    assert datastores["ledger"]["secrets"] == {"secretsType": "AccountKey", "key": PLACEHOLDER}
    assert datastores["landing"]["secrets"] == {"secretsType": "Sas", "sasToken": PLACEHOLDER}
    assert datastores["lake"]["credentialsType"] == "ServicePrincipal" and datastores["lake"]["clientId"] == "33330000-0000-0000-0000-000000000001"
    assert datastores["lake"]["secrets"] == {"secretsType": "ServicePrincipal", "clientSecret": PLACEHOLDER}
    assert datastores["shares"] == {"credentialsType": "None"}


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["--workspace", "garbage"], "is not an Azure resource id"),
        (["--workspace", rich.RG], "not an Azure ML workspace"),
        (["--workspace", rich.WS, "--out-dir-missing"], "does not exist"),
        (["--workspace", rich.WS, "--target-resource-group", "g"], "needs --target-subscription"),
    ],
)
def test_bad_input_is_refused_before_any_request(env: Env, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], says: str) -> None:
    for name, value in env.emulator.env().items():
        monkeypatch.setenv(name, value)
    out = str(tmp_path / "missing" / "x.yaml") if "--out-dir-missing" in argv else str(tmp_path / "x.yaml")
    mark = env.control.mark()
    assert main(["snapshot", *[a for a in argv if a != "--out-dir-missing"], "--out", out]) == 2
    assert says in capsys.readouterr().err
    assert env.control.requests(mark) == []


def test_a_workspace_that_does_not_exist_is_bad_input_and_nothing_is_written(rich_env: Env, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for name, value in rich_env.emulator.env().items():
        monkeypatch.setenv(name, value)
    out = tmp_path / "x.yaml"
    assert main(["snapshot", "--workspace", rich.WS.replace("ml-rich-ws", "no-such-ws"), "--out", str(out)]) == 2
    assert "No workspace" in capsys.readouterr().err and not out.exists()
