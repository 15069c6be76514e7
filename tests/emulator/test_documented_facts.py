"""Facts the client and the emulator must share, each checked against Azure's documentation text, never
against the other side: a wrong guess on one side cannot hide behind the same guess on the other."""

from __future__ import annotations

import re

from amlops import move as client_move
from amlops.emulator.models import moves as emulator_moves

# "Move Azure Machine Learning workspaces between subscriptions" (articles/machine-learning/how-to-move-workspace.md),
# Prerequisites: the resource providers the destination subscription must register, as the table reads.
DOCUMENTED_PROVIDER_TABLE = """
    | Resource provider | Why it's needed |
    | ----- | ----- |
    | __Microsoft.MachineLearningServices__ | Creating the Azure Machine Learning workspace. |
    | __Microsoft.Storage__ | Azure Storage Account is used as the default storage for the workspace. |
    | __Microsoft.ContainerRegistry__ | Azure Container Registry is used by the workspace to build Docker images. |
    | __Microsoft.KeyVault__ | Azure Key Vault is used by the workspace to store secrets. |
    | __Microsoft.Notebooks/NotebookProxies__ | Integrated notebooks on Azure Machine Learning compute instance. |
    | __Microsoft.ContainerService__ | If you plan on deploying trained models to Azure Kubernetes Services. |
"""


def _documented() -> tuple[set[str], set[str]]:
    """(always required, required only for a plan: 'If you plan on ...'), as namespaces."""
    always: set[str] = set()
    conditional: set[str] = set()
    for name, why in re.findall(r"\| __([\w./]+)__ \| ([^|]+) \|", DOCUMENTED_PROVIDER_TABLE):
        namespace = name.split("/")[0]  # Microsoft.Notebooks/NotebookProxies: a type of the Microsoft.Notebooks provider
        (conditional if why.strip().startswith("If you plan") else always).add(namespace)
    return always, conditional


def test_the_emulator_refuses_a_move_for_exactly_the_documented_providers() -> None:
    always, _ = _documented()
    assert set(emulator_moves.REQUIRED_PROVIDERS) == always


def test_the_client_checks_exactly_the_documented_providers() -> None:
    always, conditional = _documented()
    assert set(client_move.REQUIRED_PROVIDERS) == always
    assert {client_move.KUBERNETES_PROVIDER} == conditional, "Kubernetes only when Kubernetes compute is re-attached"
