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

The same module replays a recording of our own (``AMLOPS_RECORD``, ``replay_ours``): see its docstring.
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests

from amlops.emulator.control_client import EmulatorControl
from amlops.emulator.state import DEFAULT_PROVIDERS
from amlops.recording_sanitise import GUID, Sanitiser, is_text

RECORDINGS = Path(__file__).parent / "recordings"

# Compared in every replay: which long-running headers are present, the timeout's value, the rate-limit header names.
LRO_URLS = ("azure-asyncoperation", "location")
LRO_HINTS = ("retry-after", "retry-after-ms", "x-ms-retry-after-ms")
TIMEOUT = "x-ms-async-operation-timeout"
RATE_LIMIT = "x-ms-ratelimit-remaining-"
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
    "registrationState",
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
    ("PUT", r"/schedules/[^/]+$", "schedule.create"),
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
    workspace_id: str | None = None
    location = "westus"
    for e in entries:
        m = WORKSPACE.match(_path(e["RequestUri"]))
        if m and workspace_id is None:
            # presupposed, unless the session first asks for the workspace itself and Azure answers 404
            missing = e["StatusCode"] == 404 and _path(e["RequestUri"]).rstrip("/").lower() == m.group(0).lower()
            workspace_id = "" if missing else m.group(0)
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
        "subscriptions": [{"id": subs[0], "region": location, "providers": _providers(entries)}],
        "resource_groups": [{"id": g, "location": location} for g, presupposed in groups.items() if presupposed],
    }
    listed = _listed_resources(entries, f"/subscriptions/{subs[0]}/resourceGroups/{ELSEWHERE}")
    if listed:
        spec["resource_groups"].append({"id": f"/subscriptions/{subs[0]}/resourceGroups/{ELSEWHERE}", "location": location})
        spec["resources"] = listed
    if not workspace_id:
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
    schedules = [
        {"name": item["name"], "properties": item["properties"]}
        for item in _listed(entries, "/schedules")
        if not any(c.endswith(f"/schedules/{item['name']}".lower()) for c in created)
    ]
    spec["workspaces"] = [{"id": workspace_id, "location": location, "properties": {}, "datastores": datastores, "schedules": schedules}]
    return spec


# Where resources a session lists but never made are put when the recording hid their ids ("Sanitized").
ELSEWHERE = "recorded-elsewhere"


def _providers(entries: list[dict[str, Any]]) -> dict[str, str]:
    """The emulator's default registrations, and each provider's as the session read it (GET .../providers/{namespace})."""
    found = {p: "Registered" for p in DEFAULT_PROVIDERS}
    for e in entries:
        body = e.get("ResponseBody")
        if e["RequestMethod"] == "GET" and isinstance(body, dict) and isinstance(body.get("registrationState"), str) and "namespace" in body:
            found[str(body["namespace"])] = body["registrationState"]
    return found


def _listed(entries: list[dict[str, Any]], segment: str) -> list[dict[str, Any]]:
    """The items of every listing whose request path ends with ``segment``."""
    return [
        item
        for e in entries
        if e["RequestMethod"] == "GET" and _path(e["RequestUri"]).rstrip("/").endswith(segment) and isinstance(e.get("ResponseBody"), dict)
        for item in e["ResponseBody"].get("value") or []
        if isinstance(item, dict)
    ]


def _listed_resources(entries: list[dict[str, Any]], group: str) -> list[dict[str, Any]]:
    """Resources a listing of ``.../resources`` showed that the session never made: type, name and location as first
    listed (a move lists a resource again elsewhere); the id as listed when the recording kept it, else under ``group``."""
    made = {_path(e["RequestUri"]).rstrip("/").lower() for e in entries if e["RequestMethod"] == "PUT"}
    found, seen = [], set()
    for item in _listed(entries, "/resources"):
        listed_id = str(item.get("id", ""))
        if item["name"] in seen or listed_id.lower() in made:
            seen.add(item["name"])
            continue
        seen.add(item["name"])
        rid = listed_id if listed_id.startswith("/subscriptions/") else f"{group}/providers/{item['type']}/{item['name']}"
        found.append({"id": rid, "location": item.get("location"), "tags": item.get("tags") or {}, "properties": item.get("properties") or {}})
    return found


def _settings(entries: list[dict[str, Any]]) -> dict[str, Any]:
    """Timing the session shows: instances are ready when Azure says their create succeeded (the session's own polls
    say when), and a job waits for its nodes until the session last saw it not yet Running."""
    times = timeline(entries)
    submitted = next((times[i] for i, e in enumerate(entries) if e["RequestMethod"] == "PUT" and "/jobs/" in e["RequestUri"]), None)
    settings: dict[str, Any] = {"lro": {"default": {"mode": "immediate"}, "compute.setup": {"mode": "immediate"}}}
    if submitted is not None:
        waiting = [
            times[i]
            for i, e in enumerate(entries)
            if "/jobs/" in e["RequestUri"] and _status(e) in ("Starting", "Preparing", "Queued", "NotStarted")
        ]
        running = [
            times[i]
            for i, e in enumerate(entries)
            if "/jobs/" in e["RequestUri"] and _status(e) not in (None, "Starting", "Preparing", "Queued", "NotStarted")
        ]
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


def rate_limits(headers: dict[str, str]) -> list[str]:
    return sorted(k for k in headers if k.startswith(RATE_LIMIT))


def header_differences(want: dict[str, str], got: dict[str, str]) -> list[tuple[str, Any, Any]]:
    """(what, recorded, replayed) for each long-running header present on one side only, a different
    x-ms-async-operation-timeout, and different rate-limit header names. Header names in lower case."""
    out: list[tuple[str, Any, Any]] = [(f"header {n}", n in want, n in got) for n in LRO_URLS + LRO_HINTS if (n in want) != (n in got)]
    if want.get(TIMEOUT) != got.get(TIMEOUT):
        out.append((f"header {TIMEOUT}", want.get(TIMEOUT), got.get(TIMEOUT)))
    if rate_limits(want) != rate_limits(got):
        out.append(("rate-limit headers", rate_limits(want), rate_limits(got)))
    return out


def compare(index: int, recorded: dict[str, Any], status: int, headers: dict[str, str], body: Any) -> list[Difference]:
    out = []
    if recorded["StatusCode"] != status:
        out.append(Difference(index, "status", recorded["StatusCode"], status))
    want, got = _headers(recorded), {k.lower(): v for k, v in headers.items()}
    out.extend(Difference(index, what, a, b) for what, a, b in header_differences(want, got))
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
        self.ca_file = ca_file
        self._session = requests.Session()

    def send(self, method: str, url: str, body: Any) -> tuple[int, dict[str, str], Any]:
        data = None if body is None else json.dumps(body).encode()
        answer = send(self._session, self.ca_file, method, self.base_url + path_and_query(url), data, {"Content-Type": "application/json"})
        status, raw = answer.status_code, answer.content
        try:
            parsed = json.loads(raw) if raw.strip() else None
        except ValueError:
            parsed = raw.decode(errors="replace")
        return status, dict(answer.headers), parsed

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


# Recordings of our own (AMLOPS_RECORD), replayed against an emulator holding the run's scenario.

# What a server makes up for each run: GUIDs (operations, new identities) and hex suffixes of names it generates.
GENERATED = re.compile(rf"{GUID.pattern}|(?<![0-9A-Za-z])[0-9a-f]{{8,32}}(?![0-9A-Za-z])")
_TIMESTAMP = re.compile(r"(At|On|Time|TimeUtc|Date|Timestamp|timestamp)$")
_IGNORED = {"etag"}


@dataclass
class Replay:
    sent: int = 0
    skipped: int = 0  # requests to other hosts (blob storage)
    differences: list[str] = field(default_factory=list)
    learned: dict[str, str] = field(default_factory=dict)  # recorded id -> the id the emulator generated instead


def send(session: requests.Session, ca_file: str, method: str, url: str, data: bytes | None, headers: dict[str, str]) -> requests.Response:
    """One request over HTTPS to the emulator, as a client with its CA sends it."""
    return session.request(method, url, data=data, headers={**headers, "Authorization": "Bearer replay"}, timeout=60, verify=ca_file)


def origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def path_and_query(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


@dataclass(frozen=True)
class Accepted:
    """A difference the replay does not judge, and why: the field at ``field`` of answers to requests whose path
    and query match ``uri``."""

    uri: str
    field: str
    reason: str


def replay_ours(
    recording: dict[str, Any], recorded_origin: str, base_url: str, ca_file: str, sanitiser: Sanitiser, accepted: tuple[Accepted, ...] = ()
) -> Replay:
    """Send every recorded request that went to ``recorded_origin`` to ``base_url``, in order; compare the answers.
    Replays a recording of our own (``AMLOPS_RECORD``) against an emulator and says where its answers differ.

    Small on purpose: the recorded tier (tests/recorded/) replays Azure's recordings; this replays ours, whose ids
    were replaced with the run's salt, which the test knows. The emulator it replays against was loaded with the run's
    scenario mapped by the same salt (amlops.recording_sanitise.sanitise_scenario), so the recording's placeholders
    name what exists there. Each request of the recording that went to the emulator is sent in order, over HTTPS;
    each answer is sanitised as the recorder sanitises, then compared with the recorded one: status code, the
    long-running headers (``Azure-AsyncOperation`` and ``Location`` by path and query, ``Retry-After``,
    ``retry-after-ms`` and ``x-ms-async-operation-timeout`` by presence), the rate-limit header names, and the body
    field by field but for timestamps and etags; a collection's items are matched by name (the order of a list is no
    contract, and writes sent in parallel reach the server in an order the recording cannot know). An id the emulator
    generates (an operation, a new identity's principal, the suffix of a re-created private endpoint connection's name)
    differs from run to run: the first time a recorded id meets another it is learned, like the test proxy's
    variables, and later requests name the new one; from then on the two must keep meeting.
    """
    result = Replay()
    session = requests.Session()
    for index, entry in enumerate(recording["Entries"]):
        if origin(entry["RequestUri"]) != recorded_origin:
            result.skipped += 1
            continue
        url = base_url.rstrip("/") + _rename(result, path_and_query(entry["RequestUri"]))
        headers = {**entry["RequestHeaders"], "Authorization": "Bearer replay"}
        content_type = next((v for k, v in headers.items() if k.lower() == "content-type"), None)
        answer = send(session, ca_file, entry["RequestMethod"], url, _body_bytes(result, entry["RequestBody"], content_type), headers)
        result.sent += 1
        live = sanitiser.entry(entry["RequestMethod"], url, {}, None, answer.status_code, dict(answer.headers), answer.content)
        [live] = json.loads(sanitiser.recording([live]))["Entries"]
        skip = {a.field for a in accepted if re.search(a.uri, path_and_query(entry["RequestUri"]))}
        compare = _Compare(result, sanitiser, f"#{index} {entry['RequestMethod']} {path_and_query(entry['RequestUri'])[:160]}", skip)
        compare.entry(entry, live)
    return result


def _rename(result: Replay, text: str) -> str:
    return GENERATED.sub(lambda m: result.learned.get(m.group(0).lower(), m.group(0)), text) if result.learned else text


def _body_bytes(result: Replay, body: Any, content_type: str | None) -> bytes | None:
    """The bytes of a recorded body, as the test proxy's RecordEntry.DeserializeBody reads them back."""
    if body is None:
        return None
    if isinstance(body, (dict, int, float, bool)):
        return _rename(result, json.dumps(body)).encode()
    if isinstance(body, list):
        return _rename(result, "".join(body)).encode()
    if is_text(content_type):
        return _rename(result, str(body)).encode()
    data = base64.b64decode(str(body))
    try:
        return _rename(result, data.decode()).encode()
    except UnicodeDecodeError:
        return data


def _names(items: list[Any]) -> dict[str, Any] | None:
    """A list of named resources by name, or None when it is not one."""
    if not items or not all(isinstance(i, dict) and isinstance(i.get("name"), str) for i in items):
        return None
    named = {i["name"]: i for i in items}
    return named if len(named) == len(items) else None


class _Compare:
    def __init__(self, result: Replay, sanitiser: Sanitiser, where: str, skip: set[str]) -> None:
        self.result, self.where, self.skip = result, where, skip
        self.real = {placeholder: real for real, placeholder in sanitiser.placeholders.items()}

    def differ(self, what: str, recorded: Any, live: Any) -> None:
        self.result.differences.append(f"{self.where}: {what}: recorded {str(recorded)[:200]!r}, replayed {str(live)[:200]!r}")

    def entry(self, recorded: dict[str, Any], live: dict[str, Any]) -> None:
        if recorded["StatusCode"] != live["StatusCode"]:
            self.differ("status", recorded["StatusCode"], live["StatusCode"])
            return
        rec_h = {k.lower(): v for k, v in recorded["ResponseHeaders"].items()}
        live_h = {k.lower(): v for k, v in live["ResponseHeaders"].items()}
        for what, recorded_value, live_value in header_differences(rec_h, live_h):
            self.differ(what, recorded_value, live_value)
        for name in LRO_URLS:  # ours are replayed against the emulator that made them: the URLs must match too
            if name in rec_h and name in live_h:
                self.text(f"header {name}", path_and_query(rec_h[name]), path_and_query(live_h[name]))
        self.value("body", recorded["ResponseBody"], live["ResponseBody"])

    def value(self, path: str, recorded: Any, live: Any) -> None:
        if path in self.skip:
            return
        if isinstance(recorded, dict) and isinstance(live, dict):
            keys = [k for k in {**recorded, **live} if not _TIMESTAMP.search(k) and k.lower() not in _IGNORED]
            for key in keys:
                if (key in recorded) != (key in live):
                    self.differ(f"{path}.{key} present", key in recorded, key in live)
                else:
                    self.value(f"{path}.{key}", recorded[key], live[key])
        elif isinstance(recorded, list) and isinstance(live, list):
            rec_names, live_names = _names(recorded), _names(live)
            if rec_names is not None and live_names is not None and rec_names.keys() == live_names.keys():
                for name in rec_names:  # a collection: its order is no contract, and parallel writes make it vary
                    self.value(f"{path}[{name}]", rec_names[name], live_names[name])
                return
            if len(recorded) != len(live):
                self.differ(f"{path} length", len(recorded), len(live))
            for i, (r, v) in enumerate(zip(recorded, live, strict=False)):
                self.value(f"{path}[{i}]", r, v)
        elif isinstance(recorded, str) and isinstance(live, str):
            self.text(path, recorded, live)
        elif recorded != live:
            self.differ(path, recorded, live)

    def text(self, path: str, recorded: str, live: str) -> None:
        """Equal but for ids generated on each side, which must pair up the same way every time."""
        if recorded == live:
            return
        rec_ids, live_ids = GENERATED.findall(recorded), GENERATED.findall(live)
        if GENERATED.sub("", recorded) != GENERATED.sub("", live) or len(rec_ids) != len(live_ids):
            self.differ(path, recorded, live)
            return
        for rec, got in zip(rec_ids, live_ids, strict=True):
            rec, real = rec.lower(), self.real.get(got.lower(), got.lower())
            if rec == got.lower():
                continue
            known = self.result.learned.get(rec)
            if known is None and real not in self.result.learned.values():
                self.result.learned[rec] = real
            elif known != real:
                self.differ(f"{path} id", rec, got)
