"""``AMLOPS_RECORD=DIR``: every HTTP exchange amlops has with Azure, written to DIR as a test-proxy recording.

Every client amlops builds (ResourceManagementClient and the raw ARM pipeline, MLClient and its service clients,
Microsoft Graph, blob containers for checkpoints and shared move state) gets ``raw_response_hook`` =
``Recorder.hook``: azure-core's CustomHookPolicy and storage's StorageResponseHook call it once per attempt, after
authentication, so retries, 429s and long-running polls are all in the file. Token requests of the credential
(Microsoft Entra ID) are not: they are nothing but secrets.

One file per process (a flow run on a Prefect worker is a process of its own): ``DIR/amlops-<UTC time>-<pid>.json``,
rewritten whole (to a temporary file, then renamed) at most once a second (less often as it grows: writing takes
under a tenth of the time), as compact JSON, and at exit indented as the test proxy writes: it is always a complete
recording. What is kept is decided in amlops.recording_sanitise; the salt that makes its id placeholders is
``AMLOPS_RECORD_SALT`` (made up and exported to child processes when unset, so a run's processes agree).

Recording never breaks a run: whatever fails in it is logged once, as a warning naming no data, and the run goes on.
"""

from __future__ import annotations

import atexit
import logging
import os
import secrets
import threading
import time
from pathlib import Path
from typing import Any

from amlops.recording_sanitise import Sanitiser, text_is_final

ENV = "AMLOPS_RECORD"
SALT_ENV = "AMLOPS_RECORD_SALT"
MAX_BODY = 4 * 1024 * 1024  # larger bodies (a big blob download) are recorded as null rather than held in memory
FLUSH_SECONDS = 1.0

log = logging.getLogger("amlops.recording")


class Recorder:
    """The recording of one process: sanitised entries in the order their answers arrived."""

    def __init__(self, directory: Path, salt: bytes, flush_seconds: float = FLUSH_SECONDS) -> None:
        self.directory = directory
        self.sanitiser = Sanitiser(salt)
        self.flush_seconds = flush_seconds
        self._entries: list[dict[str, Any]] = []
        self._lock = threading.Lock()  # the entries
        self._write_lock = threading.Lock()  # the file: one writer at a time
        self._pid = os.getpid()
        self._path: Path | None = None
        self._written = 0  # entries in the file
        self._texts: list[str | None] = []  # entries as serialised for the file (None: serialised at every write)
        self._last_flush = 0.0
        self._interval = flush_seconds  # grows with the file: writing stays under a tenth of the time
        self._warned = False
        self._compact = False  # the file holds compact JSON, to be indented at the end
        atexit.register(self.flush, final=True)

    @property
    def path(self) -> Path:
        if self._path is None or self._pid != os.getpid():
            stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
            self._path = self.directory / f"amlops-{stamp}-{os.getpid()}.json"
        return self._path

    def hook(self, pipeline_response: Any) -> None:
        """azure-core's ``raw_response_hook``: record one exchange. Never raises."""
        try:
            entry = self.sanitiser.entry(*_exchange(pipeline_response))  # outside the lock: threads sanitise side by side
            with self._lock:
                if self._pid != os.getpid():  # a forked child records its own exchanges only
                    self._pid, self._entries, self._texts, self._written, self._path = os.getpid(), [], [], 0, None
                self._entries.append(entry)
                due = time.monotonic() - self._last_flush >= self._interval
                if due:
                    self._last_flush = time.monotonic()  # one thread writes; the others go on
            if due:
                self.flush()
        except Exception as error:  # noqa: BLE001 - recording must never break the run it records
            self._warn(error)

    def flush(self, final: bool = False) -> None:
        """Write the file now, if anything is new; compact JSON while the run goes on (each entry serialised once),
        indented as the test proxy writes at the end (``final``, at exit). Never raises. Exchanges go on being
        recorded while it writes."""
        try:
            with self._write_lock:
                with self._lock:
                    entries, path = list(self._entries), self.path
                if len(entries) == self._written and not (final and self._compact):
                    return
                started = time.monotonic()
                if final:
                    text = self.sanitiser.recording(entries)
                else:
                    for entry in entries[len(self._texts) :]:
                        self._texts.append(self.sanitiser.entry_text(entry, indent=False) if text_is_final(entry) else None)
                    texts = [t if t is not None else self.sanitiser.entry_text(e, indent=False) for t, e in zip(self._texts, entries, strict=True)]
                    text = self.sanitiser.document(texts, indent=False)
                path.parent.mkdir(parents=True, exist_ok=True)
                partial = path.with_name(path.name + ".partial")
                partial.write_text(text, encoding="utf-8")
                os.replace(partial, path)
                self._written, self._compact = len(entries), not final
                self._interval = max(self.flush_seconds, 10 * (time.monotonic() - started))
        except Exception as error:  # noqa: BLE001 - a full disk or a bad directory must not fail the run
            self._warn(error)

    def _warn(self, error: Exception) -> None:
        if not self._warned:
            self._warned = True
            log.warning("AMLOPS_RECORD: recording to %s failed (%s); the run goes on, the recording may miss exchanges (said once).", self.directory, type(error).__name__)


def _exchange(pipeline_response: Any) -> tuple[str, str, Any, Any, int, Any, Any]:
    request, response = pipeline_response.http_request, pipeline_response.http_response
    request_body = getattr(request, "body", None)
    if request_body is None:
        request_body = getattr(request, "content", None)
    if not isinstance(request_body, (bytes, bytearray, str)):
        request_body = None  # a stream or generator: sent as it was read, not kept
    headers = response.headers
    response_body = None
    if int(headers.get("Content-Length") or 0) <= MAX_BODY:
        response_body = response.body() if hasattr(response, "body") else response.read()
    return request.method, request.url, request.headers, request_body, response.status_code, headers, response_body


_recorders: dict[str, Recorder] = {}
_recorders_lock = threading.Lock()


def recorder(env: dict[str, str] | None = None) -> Recorder | None:
    """This process's recorder for the directory ``AMLOPS_RECORD`` names, or None when it names none."""
    source = os.environ if env is None else env
    directory = source.get(ENV, "").strip()
    if not directory:
        return None
    with _recorders_lock:
        found = _recorders.get(directory)
        if found is None:
            salt = source.get(SALT_ENV) or os.environ.get(SALT_ENV)
            if not salt:
                salt = os.environ[SALT_ENV] = secrets.token_hex(16)  # child processes of this run inherit it
            found = _recorders[directory] = Recorder(Path(directory).expanduser(), salt.encode())
        return found


def hooks(env: dict[str, str] | None = None) -> dict[str, Any]:
    """Keyword arguments that make an azure-core or storage client record: ``raw_response_hook``, or nothing."""
    found = recorder(env)
    return {"raw_response_hook": found.hook} if found else {}
