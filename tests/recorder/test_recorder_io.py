"""The recorder's I/O edge: a broken exchange or an unwritable directory never reaches the run."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from types import SimpleNamespace

import pytest

from amlops.azure.recording import Recorder, hooks, recorder


def _response(status: int = 200) -> SimpleNamespace:
    request = SimpleNamespace(method="GET", url="https://management.azure.com/subscriptions/6a4d0e1c-1f0e-4b8e-9c1e-2f3a4b5c6d7e?api-version=1", headers={"Authorization": "Bearer x"}, body=None)
    response = SimpleNamespace(status_code=status, headers={"Content-Type": "application/json"}, body=lambda: b'{"tenantId": "72f988bf-86f1-41af-91ab-2d7cd011db47"}')
    return SimpleNamespace(http_request=request, http_response=response)


def test_a_broken_exchange_is_warned_about_once_and_the_next_one_is_recorded(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    rec = Recorder(tmp_path, b"salt", flush_seconds=0)
    with caplog.at_level(logging.WARNING, logger="amlops.recording"):
        rec.hook(object())  # no request, no response: what a bug in an SDK could hand over
        rec.hook(object())
        rec.hook(_response())
    assert len([r for r in caplog.records if r.name == "amlops.recording"]) == 1
    [entry] = json.loads(rec.path.read_text())["Entries"]
    assert entry["StatusCode"] == 200 and entry["RequestHeaders"] == {}
    assert "72f988bf" not in rec.path.read_text() and "6a4d0e1c" not in rec.path.read_text()
    rec.flush(final=True)  # at exit: the same recording, laid out as the test proxy writes it
    text = rec.path.read_text()
    assert json.loads(text)["Entries"] == [entry] and text == json.dumps(json.loads(text), indent=2, ensure_ascii=False) + "\n"


def test_no_directory_no_recorder_and_no_hook(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("AMLOPS_RECORD", raising=False)
    assert recorder() is None and hooks() == {}
    monkeypatch.setenv("AMLOPS_RECORD", str(tmp_path))
    monkeypatch.setenv("AMLOPS_RECORD_SALT", "")  # whatever the recorder exports is undone after the test
    monkeypatch.delenv("AMLOPS_RECORD_SALT")
    found = recorder()
    assert found is not None and hooks() == {"raw_response_hook": found.hook} and recorder() is found
    assert os.environ.get("AMLOPS_RECORD_SALT"), "a salt made up for the run, for its child processes to inherit"
