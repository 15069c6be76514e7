"""Bad input on the command line is refused before anything heavy starts, the error the last line printed.

Each case runs the real `amlops` entry point in a fresh interpreter and then looks at what that interpreter
loaded: a refusal that came before the work began left Prefect (and its temporary server) and the Azure
SDKs unimported. Nothing here is timed; the order is what is proved.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
WS = "/subscriptions/11111111-1111-1111-1111-111111111111/resourceGroups/ml-prod/providers/Microsoft.MachineLearningServices/workspaces/ml-prod-ws"
SUB = "22222222-2222-2222-2222-222222222222"
MOVE = ["move", "--source", WS, "--target-subscription", SUB, "--target-resource-group", "ml-moved"]
TRAIN = ["train", "--workspace", WS, "--command", "python train.py", "--environment", "azureml:env:1", "--compute", "gpu", "--checkpoints", "ckpt:runs/x"]

# Runs main() as `amlops` does, then reports the exit code and which heavy packages got imported.
PROBE = """
import json, sys
from app.cli import main
try:
    code = main(sys.argv[1:])
except SystemExit as exit:
    code = exit.code
print(json.dumps({"code": code, "loaded": sorted({m.split(".")[0] for m in sys.modules} & {"prefect", "azure", "flows", "tasks"})}))
"""


def _amlops(*args: str) -> tuple[int, list[str], str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AMLOPS_", "PREFECT_"))}
    done = subprocess.run([sys.executable, "-c", PROBE, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    report = json.loads(done.stdout.strip().splitlines()[-1])
    return report["code"], report["loaded"], done.stderr


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["move", "--source", "garbage", *MOVE[3:]], "'garbage' is not an Azure resource id"),
        ([*MOVE[:4], "not-a-guid", *MOVE[5:]], "target subscription 'not-a-guid' is not a GUID"),
        ([*MOVE[:6], "bad/group"], "bad/group"),
        ([*MOVE[:6], "ml-prod", "--target-subscription", "11111111-1111-1111-1111-111111111111"], "is the workspace's own"),
        ([*MOVE, "--no-such-option"], "unrecognized arguments: --no-such-option"),
        (["move", "--source", WS], "the following arguments are required: --target-subscription"),
        ([*TRAIN[:-1], "no-colon"], "--checkpoints 'no-colon' is not DATASTORE:PATH"),
        ([*TRAIN, "--env", "NOEQUALS"], "--env 'NOEQUALS' is not NAME=VALUE"),
        (["approve-endpoints", "--workspace", "garbage"], "'garbage' is not an Azure resource id"),
        (["approve", "6f1c0d2e-0000-4000-8000-000000000000", "--approver", "alice", "--decide", "pe-1"], "--decide 'pe-1' is not NAME=VALUE"),
    ],
    ids=["malformed-source", "malformed-subscription", "malformed-group", "same-group", "unknown-option", "missing-option", "checkpoints", "env", "endpoints-workspace", "decide"],
)
def test_bad_input_is_refused_with_exit_2_before_prefect_or_azure_is_imported(args: list[str], says: str) -> None:
    code, loaded, stderr = _amlops(*args)
    assert code == 2, stderr
    assert loaded == [], f"imported before refusing: {loaded}"
    last = stderr.strip().splitlines()[-1]
    assert says in last, stderr
    assert "Traceback" not in stderr
