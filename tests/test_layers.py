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


# Every import statement of every module, lazy ones inside functions too, read from the source: the rule holds
# for code paths no probe above happens to load.
LAYERS = ["app", "deployments", "flows", "tasks", "amlops"]  # each may import only what stands below it
SDK = "azure"  # azure.ai.ml, azure.mgmt, azure.core, azure.storage, azure.identity, ...
# Outside amlops/azure, the Azure SDKs are imported only here, each for a reason that is not calling Azure.
SDK_ELSEWHERE = {
    # The emulator plays the training script on Azure ML, which writes its checkpoints with the storage SDK.
    "amlops/emulator/models/training.py": {"azure.storage.blob"},
    # Pays the SDK's import time before the benchmark's clock starts; calls nothing.
    "bench/move_workspace.py": {"azure.ai.ml"},
}
# tests/ may use the SDKs directly: they judge the emulator from outside with Azure's own clients and models (a
# second opinion beside the gateway), and are no layer of the product.


def _imports(path: Path) -> set[str]:
    import ast

    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def _modules(*packages: str) -> dict[str, set[str]]:
    return {str(path.relative_to(ROOT)): _imports(path) for package in packages for path in sorted((ROOT / package).rglob("*.py"))}


def _top(name: str) -> str:
    return name.split(".")[0]


def test_each_layer_imports_only_the_layers_below_it() -> None:
    wrong = []
    for rank, layer in enumerate(LAYERS):
        above = set(LAYERS[:rank]) | {"bench", "tests"}
        for path, names in _modules(layer).items():
            wrong += [f"{path} imports {name}" for name in sorted(names) if _top(name) in above]
    assert wrong == []


def test_the_library_imports_no_prefect_even_lazily() -> None:
    assert [f"{path} imports {name}" for path, names in _modules("amlops").items() for name in sorted(names) if _top(name) == "prefect"] == []


def test_the_emulator_is_reached_over_https_only() -> None:
    """Nothing on the product's path (tasks, flows, deployments, the gateway) imports the emulator; the emulator
    imports nothing else of amlops."""
    wrong = [f"{p} imports {n}" for p, names in _modules("tasks", "flows", "deployments", "amlops/azure").items() for n in sorted(names) if n.startswith("amlops.emulator")]
    wrong += [f"{p} imports {n}" for p, names in _modules("amlops/emulator").items() for n in sorted(names) if _top(n) == "amlops" and not n.startswith("amlops.emulator")]
    assert wrong == []


def test_only_the_gateway_imports_the_azure_sdks() -> None:
    def allowed(path: str, name: str) -> bool:
        return path.startswith("amlops/azure/") or any(name == a or name.startswith(a + ".") for a in SDK_ELSEWHERE.get(path, ()))

    modules = _modules("amlops", "tasks", "flows", "deployments", "app", "bench")
    assert [f"{p} imports {n}" for p, names in modules.items() for n in sorted(names) if _top(n) == SDK and not allowed(p, n)] == []
    assert any(_top(n) == SDK for p, names in modules.items() if p.startswith("amlops/azure/") for n in names), "the probe reads the gateway's imports"
