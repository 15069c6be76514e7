"""Replay a recorded Azure session against the emulator, in order, and say where the answers differ.

A session (test-proxy format, ``tests/recorded/recordings/``) presupposes some Azure: the workspace its requests
name, the datastores a listing shows that the session never created. ``preconditions`` derives a scenario from
the recording itself and the emulator is loaded with it. Time follows the recording: the emulator's frozen
clock is advanced by the gap between the ``Date`` headers of consecutive answers, and each long-running
operation is given the duration Azure took (from the request that started it to its first terminal poll),
so a poll is answered at the moment Azure answered it.

Polls are sent to the URL the emulator handed out for the same operation (the header of the same name on the
answer that started it). What is compared (``compare``): status code; which long-running headers are present
(``Azure-AsyncOperation``, ``Location``, ``Retry-After``, ``retry-after-ms``) and the value of
``x-ms-async-operation-timeout``; the names of the rate-limit headers; error codes (and the inner code); and
the fields Azure sets or normalises itself (``FIELDS``); for listings, the names listed.
"""

from __future__ import annotations

import json
import re
import ssl
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from amlops.emulator.control_client import EmulatorControl

RECORDINGS = Path(__file__).parent / "recordings"

LRO_PRESENCE = ("azure-asyncoperation", "location", "retry-after", "retry-after-ms")
# Fields Azure sets or normalises itself, as dotted paths into a response body.
FIELDS = (
    "status",
    "percentComplete",
    "kind",
    "secretsType",
    "tokenType",
    "properties.provisioningState",
    "properties.authMode",
    "properties.status",
    "properties.properties.state",
    "properties.properties.vmSize",
    "properties.properties.allocationState",
    "properties.properties.lastOperation.operationName",
    "properties.properties.lastOperation.operationStatus",
    "properties.credentials",
    "properties.isDefault",
    "error.code",
    "error.details.0.code",
)
PRESENT = ("accessToken", "sasToken", "expiryTimeUtc", "refreshAfterTimeUtc")
TERMINAL = {"succeeded", "failed", "canceled", "cancelled"}
WORKSPACE = re.compile(
    r"^(/subscriptions/[^/]+/resourceGroups/[^/]+)/providers/Microsoft\.MachineLearningServices/workspaces/([^/?]+)", re.IGNORECASE
)
SUBSCRIPTION = re.compile(r"^/subscriptions/([^/]+)", re.IGNORECASE)
GROUP = re.compile(r"^/subscriptions/[^/]+/resourceGroups/[^/]+", re.IGNORECASE)
# The emulator's names for the long-running operations a request starts (amlops/emulator/lro.py kinds).
KINDS = (
    ("PUT", r"/computes/[^/]+$", "compute.create"),
    ("DELETE", r"/computes/[^/]+$", "compute.delete"),
    ("POST", r"/computes/[^/]+/(start|stop|restart)$", "compute.{0}"),
    ("PUT", r"/onlineEndpoints/[^/]+/deployments/[^/]+$", "deployment.create"),
    ("DELETE", r"/onlineEndpoints/[^/]+/deployments/[^/]+$", "deployment.delete"),
    ("PUT", r"/(online|batch)Endpoints/[^/]+$", "endpoint.create"),
    ("DELETE", r"/(online|batch)Endpoints/[^/]+$", "endpoint.delete"),
    ("PUT", r"/workspaces/[^/]+$", "workspace.create"),
    ("DELETE", r"/workspaces/[^/]+$", "workspace.delete"),
    ("POST", r"/jobs/[^/]+/cancel$", "job.cancel"),
    ("DELETE", r"^/subscriptions/[^/]+/resourceGroups/[^/]+$", "resourcegroup.delete"),
    ("POST", r"/validateMoveResources$", "validate"),
    ("POST", r"/moveResources$", "move"),
)


@dataclass
class Difference:
    entry: int
    what: str
    azure: Any
    emulator: Any

    def __str__(self) -> str:
        return f"entry {self.entry}: {self.what}: Azure {self.azure!r}, emulator {self.emulator!r}"


@dataclass
class Outcome:
    session: str
    requests: int = 0
    agreeing: int = 0
    differences: list[Difference] = field(default_factory=list)


def load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text())


def _path(url: str) -> str:
    return urlsplit(url).path


def _when(entry: dict[str, Any]) -> float | None:
    date = {k.lower(): v for k, v in entry["ResponseHeaders"].items()}.get("date")
    return parsedate_to_datetime(date).timestamp() if date else None


def timeline(entries: list[dict[str, Any]]) -> list[float]:
    """Each answer's moment: its Date, or (not recorded) the next known one."""
    times: list[float | None] = [_when(e) for e in entries]
    known = [t for t in times if t is not None] or [0.0]
    out, last = [], known[0]
    for i, t in enumerate(times):
        if t is None:
            t = next((u for u in times[i + 1 :] if u is not None), last)
        last = max(last, t)
        out.append(last)
    return out


def _op_key(url: str) -> str:
    """An operation's identity in a recording: the last two segments of its monitor URL's path."""
    return "/".join(_path(url).rstrip("/").rsplit("/", 2)[-2:]).lower()


def _headers(entry: dict[str, Any]) -> dict[str, str]:
    return {k.lower(): v for k, v in entry["ResponseHeaders"].items()}


def operations(entries: list[dict[str, Any]]) -> dict[str, tuple[int, str]]:
    """Monitor URL key -> (index of the entry that started it, header name)."""
    ops: dict[str, tuple[int, str]] = {}
    for i, e in enumerate(entries):
        for name in ("azure-asyncoperation", "location"):
            url = _headers(e).get(name)
            if url and _path(url).rstrip("/") != _path(e["RequestUri"]).rstrip("/"):
                ops.setdefault(_op_key(url), (i, name))
    return ops


def _poll_status(entry: dict[str, Any]) -> str | None:
    body = entry.get("ResponseBody")
    if isinstance(body, dict) and isinstance(body.get("status"), str):
        return str(body["status"])
    return None


def durations(entries: list[dict[str, Any]], times: list[float]) -> dict[int, float]:
    """Index of a starting entry -> the seconds Azure took: to the first terminal poll, else past the last poll."""
    ops = operations(entries)
    out: dict[int, float] = {}
    ended: set[int] = set()
    for i, e in enumerate(entries):
        started = ops.get(_op_key(e["RequestUri"]))
        if started is None or e["RequestMethod"] != "GET" or started[0] in ended:
            continue
        start = started[0]
        status = (_poll_status(e) or _result_status(e["StatusCode"])).lower()
        if status in TERMINAL:
            out[start] = max(0.0, times[i] - times[start] - 0.5)
            ended.add(start)
        else:
            out[start] = max(out.get(start, 0.0), times[i] - times[start] + 1.0)
    return out


def _result_status(code: int) -> str:
    """A Location poll's answer: 202 while it runs, 200/204 when it succeeded, the operation's own error when it failed."""
    return "inprogress" if code in (201, 202) else "succeeded" if code in (200, 204) else "failed"


def kind_of_operation(method: str, path: str) -> str | None:
    for m, pattern, kind in KINDS:
        match = re.search(pattern, path, re.IGNORECASE)
        if m == method and match:
            return kind.format(*(g.lower() for g in match.groups()))
    return None


def preconditions(session: dict[str, Any]) -> dict[str, Any]:
    """The Azure a session presupposes, as an emulator scenario: its subscription, the resource groups it uses before
    (or without) creating them, its workspace, and what it lists but never made."""
    entries = session["Entries"]
    workspace_id, location = None, "westus"
    for e in entries:
        m = WORKSPACE.match(_path(e["RequestUri"]))
        if m and workspace_id is None:
            workspace_id = m.group(0)
        body = e.get("ResponseBody")
        if isinstance(body, dict) and isinstance(body.get("location"), str):
            location = body["location"]
            break
    subs = [m.group(1) for e in entries if (m := SUBSCRIPTION.match(_path(e["RequestUri"])))]
    if not subs:
        return {}
    groups: dict[str, bool] = {}  # group id -> presupposed (used before any PUT of the group itself)
    for e in entries:
        m = GROUP.match(_path(e["RequestUri"]))
        if m and m.group(0).lower() not in groups:
            made_here = e["RequestMethod"] == "PUT" and _path(e["RequestUri"]).rstrip("/").lower() == m.group(0).lower()
            groups[m.group(0).lower()] = not made_here
    spec: dict[str, Any] = {
        "settings": _settings(entries),
        "subscriptions": [{"id": subs[0], "region": location}],
        "resource_groups": [{"id": g, "location": location} for g, presupposed in groups.items() if presupposed],
    }
    listed = _listed_resources(entries, f"/subscriptions/{subs[0]}/resourceGroups/{ELSEWHERE}")
    if listed:
        spec["resource_groups"].append({"id": f"/subscriptions/{subs[0]}/resourceGroups/{ELSEWHERE}", "location": location})
        spec["resources"] = listed
    if workspace_id is None:
        return spec
    created = {_path(e["RequestUri"]).rstrip("/").lower() for e in entries if e["RequestMethod"] == "PUT"}
    datastores = []
    for e in entries:
        body = e.get("ResponseBody")
        if e["RequestMethod"] != "GET" or not isinstance(body, dict) or not isinstance(body.get("value"), list):
            continue
        for item in body["value"]:
            if isinstance(item, dict) and "/datastores/" in str(item.get("id", "")) and item["id"].lower() not in created:
                props = {k: v for k, v in item["properties"].items() if v is not None}
                datastores.append({"name": item["name"], "properties": props})
    spec["workspaces"] = [{"id": workspace_id, "location": location, "properties": {}, "datastores": datastores}]
    return spec


# Where resources a session lists but never made are put when the recording hid their ids ("Sanitized").
ELSEWHERE = "recorded-elsewhere"


def _listed_resources(entries: list[dict[str, Any]], group: str) -> list[dict[str, Any]]:
    """Resources a listing of ``.../resources`` showed: type, name and location as listed; the id as listed when the
    recording kept it, else under ``group``."""
    found = []
    for e in entries:
        body = e.get("ResponseBody")
        if e["RequestMethod"] != "GET" or not _path(e["RequestUri"]).rstrip("/").endswith("/resources") or not isinstance(body, dict):
            continue
        for item in body.get("value") or []:
            rid = item["id"] if str(item.get("id", "")).startswith("/subscriptions/") else f"{group}/providers/{item['type']}/{item['name']}"
            found.append({"id": rid, "location": item.get("location"), "tags": item.get("tags") or {}, "properties": item.get("properties") or {}})
    return found


def _settings(entries: list[dict[str, Any]]) -> dict[str, Any]:
    """Timing the session shows: instances are ready when Azure says their create succeeded (the session's own polls
    say when), and a job waits for its nodes until the session last saw it not yet Running."""
    times = timeline(entries)
    submitted = next((times[i] for i, e in enumerate(entries) if e["RequestMethod"] == "PUT" and "/jobs/" in e["RequestUri"]), None)
    settings: dict[str, Any] = {"lro": {"default": {"mode": "immediate"}, "compute.setup": {"mode": "immediate"}}}
    if submitted is not None:
        waiting = [times[i] for i, e in enumerate(entries) if "/jobs/" in e["RequestUri"] and _status(e) in ("Starting", "Preparing", "Queued", "NotStarted")]
        running = [times[i] for i, e in enumerate(entries) if "/jobs/" in e["RequestUri"] and _status(e) not in (None, "Starting", "Preparing", "Queued", "NotStarted")]
        settings["job_queue_seconds"] = (min(running) - submitted) if running else max(waiting) - submitted + 3600.0
    return settings


def _status(entry: dict[str, Any]) -> str | None:
    body = entry.get("ResponseBody")
    props = body.get("properties") if isinstance(body, dict) else None
    return str(props["status"]) if isinstance(props, dict) and isinstance(props.get("status"), str) else None


def inner_error(body: Any) -> str | None:
    """Azure ML's inner error code: error.innerError.code, or the InnerError entry of error.additionalInfo."""
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return None
    if isinstance(error.get("innerError"), dict):
        return str(error["innerError"].get("code"))
    for info in error.get("additionalInfo") or []:
        if isinstance(info, dict) and info.get("type") == "InnerError":
            return str(((info.get("info") or {}).get("value") or {}).get("code"))
    return None


def _get(body: Any, dotted: str) -> Any:
    for part in dotted.split("."):
        if isinstance(body, list) and part.isdigit() and int(part) < len(body):
            body = body[int(part)]
        elif isinstance(body, dict) and part in body:
            body = body[part]
        else:
            return _MISSING
    return body


_MISSING = object()


def _normal(value: Any) -> Any:
    if isinstance(value, dict):  # credentials: the keys Azure returns, not the values
        return sorted(value)
    return value


def compare(index: int, recorded: dict[str, Any], status: int, headers: dict[str, str], body: Any) -> list[Difference]:
    out = []
    if recorded["StatusCode"] != status:
        out.append(Difference(index, "status", recorded["StatusCode"], status))
    want, got = _headers(recorded), {k.lower(): v for k, v in headers.items()}
    for name in LRO_PRESENCE:
        if (name in want) != (name in got):
            out.append(Difference(index, f"header {name}", name in want, name in got))
    if want.get("x-ms-async-operation-timeout") != got.get("x-ms-async-operation-timeout"):
        out.append(
            Difference(
                index,
                "header x-ms-async-operation-timeout",
                want.get("x-ms-async-operation-timeout"),
                got.get("x-ms-async-operation-timeout"),
            )
        )
    limits = sorted(k for k in want if k.startswith("x-ms-ratelimit-remaining-"))
    got_limits = sorted(k for k in got if k.startswith("x-ms-ratelimit-remaining-"))
    if limits != got_limits:
        out.append(Difference(index, "rate-limit headers", limits, got_limits))
    azure_body = recorded.get("ResponseBody")
    if inner_error(azure_body) != inner_error(body):
        out.append(Difference(index, "inner error", inner_error(azure_body), inner_error(body)))
    if isinstance(azure_body, dict):
        for dotted in FIELDS:
            expected = _get(azure_body, dotted)
            if expected is _MISSING:
                continue
            actual = _get(body, dotted)
            if actual is _MISSING or _normal(actual) != _normal(expected):
                out.append(Difference(index, dotted, _normal(expected), None if actual is _MISSING else _normal(actual)))
        for name in PRESENT:
            if name in azure_body and not (isinstance(body, dict) and body.get(name)):
                out.append(Difference(index, f"{name} present", True, False))
        if isinstance(azure_body.get("value"), list):
            names = sorted(str(v.get("name")) for v in azure_body["value"] if isinstance(v, dict))
            got_names = (
                sorted(str(v.get("name")) for v in (body or {}).get("value", []) if isinstance(v, dict)) if isinstance(body, dict) else []
            )
            if names != got_names:
                out.append(Difference(index, "names listed", names, got_names))
    return out


class Replayer:
    def __init__(self, base_url: str, ca_file: str) -> None:
        self.base_url = base_url.rstrip("/")
        self.control = EmulatorControl(base_url, ca_file)
        self._context = ssl.create_default_context(cafile=ca_file)

    def send(self, method: str, url: str, body: Any) -> tuple[int, dict[str, str], Any]:
        parts = urlsplit(url)
        target = f"{self.base_url}{parts.path}" + (f"?{parts.query}" if parts.query else "")
        data = None if body is None else json.dumps(body).encode()
        headers = {"Authorization": "Bearer replay", "Content-Type": "application/json"}
        request = urllib.request.Request(target, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, context=self._context, timeout=30) as response:
                status, answer, raw = response.status, dict(response.headers.items()), response.read()
        except urllib.error.HTTPError as err:
            status, answer, raw = err.code, dict(err.headers.items()), err.read()
        try:
            parsed = json.loads(raw) if raw.strip() else None
        except ValueError:
            parsed = raw.decode(errors="replace")
        return status, answer, parsed

    def replay(self, name: str, session: dict[str, Any]) -> Outcome:
        entries = session["Entries"]
        self.control.reset()
        self.control.freeze()
        spec = preconditions(session)
        if spec:
            self.control.load(spec)
        times = timeline(entries)
        took = durations(entries, times)
        ops = operations(entries)
        issued: dict[str, dict[str, str]] = {}  # recorded monitor key -> the emulator's headers on its start
        outcome = Outcome(name)
        for i, e in enumerate(entries):
            if i:
                gap = times[i] - times[i - 1]
                if gap > 0:
                    self.control.advance(gap)
            url, method = e["RequestUri"], e["RequestMethod"]
            key = _op_key(url)
            if method == "GET" and key in ops:
                start, header = ops[key]
                emitted = issued.get(f"{start}")
                if not emitted:
                    outcome.requests += 1
                    outcome.differences.append(Difference(i, "poll", "an operation to poll", "no operation was started"))
                    continue
                url = emitted.get(header) or emitted.get("azure-asyncoperation") or emitted.get("location") or url
            kind = kind_of_operation(method, _path(url))
            if kind and i in took:
                self.control.settings(
                    lro={
                        "default": {"mode": "immediate"},
                        "compute.setup": {"mode": "immediate"},
                        kind: {"mode": "seconds", "seconds": took[i]},
                    }
                )
            status, headers, body = self.send(method, url, e.get("RequestBody"))
            issued[f"{i}"] = {k.lower(): v for k, v in headers.items()}
            found = compare(i, e, status, headers, body)
            outcome.requests += 1
            outcome.agreeing += not found
            outcome.differences.extend(found)
        return outcome


def sessions() -> list[Path]:
    return sorted(RECORDINGS.glob("*.json"))
