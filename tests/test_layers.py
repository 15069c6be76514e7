"""The import direction DESIGN.md promises: app -> deployments -> flows -> tasks -> amlops.azure -> SDKs.

Each probe imports every module of a package in a fresh interpreter and reports which top-level packages
(and which amlops modules) ended up loaded: an import that runs back up the layers shows there, however
deep it hides.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[1]
UPPER = {"prefect", "app", "flows", "tasks", "deployments", "bench", "tests"}

PROBE = """
import importlib, json, pkgutil, sys
package = importlib.import_module(sys.argv[1])
names = [m.name for m in pkgutil.walk_packages(package.__path__, package.__name__ + ".")]
for name in names:
    importlib.import_module(name)
print(json.dumps({"imported": names, "loaded": sorted(sys.modules)}))
"""


def _import_all(package: str) -> tuple[list[str], set[str]]:
    done = subprocess.run([sys.executable, "-c", PROBE, package], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    return report["imported"], set(report["loaded"])


def test_the_library_imports_no_prefect_and_nothing_of_the_layers_above_it() -> None:
    imported, loaded = _import_all("amlops")
    assert {"amlops.errors", "amlops.azure.clients", "amlops.emulator.server"} <= set(imported)
    assert "amlops.cli" not in imported, "the CLI belongs to the application layer (app/)"
    assert {m.split(".")[0] for m in loaded} & UPPER == set()


def test_the_emulator_imports_nothing_else_of_amlops() -> None:
    imported, loaded = _import_all("amlops.emulator")
    assert "amlops.emulator.server" in imported
    assert {m for m in loaded if m.startswith("amlops.") and not m.startswith("amlops.emulator")} == set()
    assert {m.split(".")[0] for m in loaded} & (UPPER | {"azure"}) == set()
