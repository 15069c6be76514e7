"""The exception tree sits at the root: the pure modules import no SDK, and each outcome carries its exit code."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from amlops import errors

ROOT = Path(__file__).parents[1]


def test_the_pure_modules_import_neither_azure_nor_prefect() -> None:
    probe = "import sys, json; import amlops.errors, amlops.models, amlops.move, amlops.fleet, amlops.manifests, amlops.training, amlops.approvals; " \
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))"  # fmt: skip
    loaded = json.loads(subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True).stdout)
    assert "azure" not in loaded and "prefect" not in loaded


def test_each_outcome_class_carries_the_code_the_readme_documents() -> None:
    assert errors.exit_code(errors.InvalidInput("x")) == 2
    assert {errors.exit_code(c("x")) for c in (errors.PreflightFailed, errors.PlanNotApproved, errors.PlanChanged, errors.MoveInProgress, errors.MoveValidationFailed, errors.MoveFailed)} == {3}
    assert {errors.exit_code(c("x")) for c in (errors.MoveIncomplete, errors.MoveNeedsAPerson, errors.RestoreIncomplete, errors.ApprovalTimedOut)} == {4}
    assert errors.exit_code(errors.NotFound("x")) == 1 and errors.exit_code(KeyError("a bug")) == 1
    assert set(errors.EXIT_CODES.values()) == {2, 3, 4}


def test_code_is_azures_where_given_else_the_outcome_name() -> None:
    assert errors.MoveIncomplete("left").code == "MoveIncomplete"
    assert errors.MoveValidationFailed("no", code="ResourceMoveProviderValidationFailed").code == "ResourceMoveProviderValidationFailed"
