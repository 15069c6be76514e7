"""Runs that record (the session's Prefect server and emulator, tests/conftest.py), and what they wrote."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from amlops.azure import recording
from tasks import common

SALT = "recorder-tests-salt"


@pytest.fixture
def recorded_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """AMLOPS_RECORD names a fresh directory; clients built from here on record into it."""
    directory = tmp_path / "recordings"
    monkeypatch.setenv(recording.ENV, str(directory))
    monkeypatch.setenv(recording.SALT_ENV, SALT)
    common.clients.cache_clear()
    yield directory
    common.clients.cache_clear()


def files(directory: Path) -> list[dict[str, Any]]:
    """Every recording in the directory, written out first as at exit."""
    found = recording.recorder()
    if found is not None:
        found.flush(final=True)
    return [json.loads(p.read_text()) for p in sorted(directory.glob("*.json"))]


def everything(directory: Path) -> str:
    """Every recorded byte, base64 bodies decoded: where a secret would hide."""
    texts = []
    for path in sorted(directory.glob("*.json")):
        text = path.read_text()
        texts.append(text)
        for entry in json.loads(text)["Entries"]:
            for body in (entry["RequestBody"], entry["ResponseBody"]):
                if isinstance(body, str):
                    try:
                        texts.append(base64.b64decode(body, validate=True).decode(errors="replace"))
                    except ValueError:
                        pass
    return "\n".join(texts)
