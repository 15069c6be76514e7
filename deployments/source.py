"""Where a worker gets the code: a `pull` step that clones the team's repository at a known revision.

Every deployment carries the same pull step, in prefect.yaml and from `amlops deploy`: Prefect's
`git_clone` of the repository in the Prefect variable ``amlops_git_repository`` at the commit in
``amlops_git_revision`` (empty: the default branch's head), with the access token of the Secret block
``amlops-git-token`` (empty for a repository that needs none). The placeholders are resolved by each
flow run on its worker, not when deploying: a worker needs no checkout, only Python with amlops'
dependencies, and every worker runs the same commit. A worker that shares the deployer's disk may
instead run the code in place (``amlops deploy --checkout DIR``).
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

REPOSITORY_VARIABLE = "amlops_git_repository"
REVISION_VARIABLE = "amlops_git_revision"
TOKEN_BLOCK = "amlops-git-token"
CLONE = "prefect.deployments.steps.git_clone"


def git_pull_steps() -> list[dict[str, Any]]:
    return [
        {
            CLONE: {
                "id": "clone-amlops",
                "repository": "{{ prefect.variables." + REPOSITORY_VARIABLE + " }}",
                "commit_sha": "{{ prefect.variables." + REVISION_VARIABLE + " }}",
                "access_token": "{{ prefect.blocks.secret." + TOKEN_BLOCK + " }}",
            }
        }
    ]


def checkout_pull_steps(directory: str) -> list[dict[str, Any]]:
    return [{"prefect.deployments.steps.set_working_directory": {"directory": directory}}]


class PullSteps:
    """What a RunnerDeployment needs of a storage to register its pull steps (as `prefect deploy` does)."""

    def __init__(self, steps: list[dict[str, Any]]):
        self.steps = steps
        self._base_path = Path.cwd()

    def set_base_path(self, path: Path) -> None:
        self._base_path = path

    @property
    def destination(self) -> Path:
        return self._base_path

    @property
    def pull_interval(self) -> int:
        return 60

    async def pull_code(self) -> None:
        return None

    def to_pull_step(self) -> list[dict[str, Any]]:
        return self.steps


def head_commit(checkout: Path) -> str:
    """The commit a checkout is at, or "" outside a git checkout."""
    done = subprocess.run(["git", "rev-parse", "HEAD"], cwd=checkout, capture_output=True, text=True)
    return done.stdout.strip() if done.returncode == 0 else ""


def set_source(repository: str, revision: str, token: str | None) -> None:
    """Store where workers clone from (the variables and the token block the pull step reads)."""
    from prefect.blocks.system import Secret
    from prefect.variables import Variable
    from pydantic import SecretStr

    from tasks.common import sync_result

    Variable.set(REPOSITORY_VARIABLE, repository, overwrite=True)
    Variable.set(REVISION_VARIABLE, revision, overwrite=True)
    if token is not None:
        sync_result(Secret(value=SecretStr(token)).save(TOKEN_BLOCK, overwrite=True))
    else:
        try:
            Secret.load(TOKEN_BLOCK)
        except ValueError:
            sync_result(Secret(value=SecretStr("")).save(TOKEN_BLOCK))  # none needed: the pull step still names the block
