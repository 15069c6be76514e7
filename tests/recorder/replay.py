"""Replays a recording of our own (``AMLOPS_RECORD``) against an emulator and says where its answers differ.

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

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import requests

from amlops.recording_sanitise import GUID, Sanitiser, is_text

LRO_URLS = ("azure-asyncoperation", "location")
LRO_PRESENCE = ("retry-after", "retry-after-ms", "x-ms-retry-after-ms", "x-ms-async-operation-timeout")
RATE_LIMIT = "x-ms-ratelimit-remaining-"
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


def replay(recording: dict[str, Any], recorded_origin: str, base_url: str, ca_file: str, sanitiser: Sanitiser, accepted: tuple[Accepted, ...] = ()) -> Replay:
    """Send every recorded request that went to ``recorded_origin`` to ``base_url``, in order; compare the answers."""
    result = Replay()
    session = requests.Session()
    for index, entry in enumerate(recording["Entries"]):
        if origin(entry["RequestUri"]) != recorded_origin:
            result.skipped += 1
            continue
        url = base_url.rstrip("/") + _rename(result, path_and_query(entry["RequestUri"]))
        headers = {**entry["RequestHeaders"], "Authorization": "Bearer replay"}
        content_type = next((v for k, v in headers.items() if k.lower() == "content-type"), None)
        answer = session.request(entry["RequestMethod"], url, data=_body_bytes(result, entry["RequestBody"], content_type), headers=headers, timeout=60, verify=ca_file)
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
        for name in LRO_URLS + LRO_PRESENCE:
            if (name in rec_h) != (name in live_h):
                self.differ(f"header {name}", rec_h.get(name), live_h.get(name))
            elif name in rec_h and name in LRO_URLS:
                self.text(f"header {name}", path_and_query(rec_h[name]), path_and_query(live_h[name]))
            elif name == "x-ms-async-operation-timeout" and name in rec_h and rec_h[name] != live_h[name]:
                self.differ(f"header {name}", rec_h[name], live_h[name])
        rate = lambda h: sorted(k for k in h if k.startswith(RATE_LIMIT))  # noqa: E731
        if rate(rec_h) != rate(live_h):
            self.differ("rate-limit headers", rate(rec_h), rate(live_h))
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
