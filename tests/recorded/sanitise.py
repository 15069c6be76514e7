"""Sanitise a test-proxy recording (Azure/azure-sdk-assets format) before it enters this repository.

    python -m tests.recorded.sanitise IN.json [OUT.json]     # rewrite (in place without OUT)
    python -m tests.recorded.sanitise --check FILE...         # exit 1 naming what leaked

What leaves a recording: every request header but Content-Type (Authorization and its live bearer tokens among
them); every response header but those the replay compares (long-running operation headers, rate-limit headers,
Content-Type, Date for the timeline); the signing query (``c``, ``s``, ``h``, ``t``) of operation URLs and SAS
query strings; keys, passwords, tokens, connection strings and SSH keys in bodies; e-mail addresses. Subscription
and tenant ids, principal ids and the test-proxy's malformed ``00000000-0000-0000-0000-000000000`` become
consistent well-formed stand-ins, so the same id is the same stand-in throughout a file.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

REQUEST_HEADERS = {"content-type"}
RESPONSE_HEADERS = {
    "content-type",
    "date",
    "location",
    "azure-asyncoperation",
    "retry-after",
    "retry-after-ms",
    "x-ms-retry-after-ms",
    "x-ms-async-operation-timeout",
}
RATE_LIMIT_PREFIX = "x-ms-ratelimit-remaining-"
# Query parameters a request or an operation URL needs; the rest (signatures, SAS fields, timestamps) go.
KEEP_QUERY = {
    "api-version",
    "underlyingresourceaction",
    "skipvalidation",
    "listviewtype",
    "isdefault",
    "count",
    "orderbyasc",
    "$filter",
    "$top",
    "$skiptoken",
    "forcetopurge",
    "type",
}
# Any field named like a secret: keys, passwords, secrets, tokens, connection strings, certificates (adminUserPassword,
# adminUserSshPublicKey, accountKey, sasToken, accessToken, clientSecret, ...).
SECRET_FIELDS = re.compile(r"(key|keys|password|secret|token|connectionstring|certificate|thumbprint|sas)$", re.IGNORECASE)
# Fields that name a person (systemData's createdBy and lastModifiedBy, a compute's userId).
PERSONAL_FIELDS = {"createdby", "lastmodifiedby", "userid", "username", "owner", "owners"}
GUID = re.compile(r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{9,12}\b")
EMAIL = re.compile(r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}\b")
JWT = re.compile(r"eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]*")
SAS_QUERY = re.compile(r"[?&](sig|sv|se|sp|st|srt|ss|skoid)=", re.IGNORECASE)
ZERO = "00000000-0000-0000-0000-000000000000"
STAND_IN = re.compile(r"00000000-0000-0000-0000-\d{12}")


class Ids:
    """Consistent stand-ins: the n-th distinct id of a file becomes ``00000000-0000-0000-0000-00000000000n``."""

    def __init__(self) -> None:
        self.seen: dict[str, str] = {}

    def __call__(self, match: re.Match[str]) -> str:
        return self.stand_in(match.group(0))

    def stand_in(self, value: str) -> str:
        value = value.lower()
        if value == ZERO or STAND_IN.fullmatch(value):
            return value  # already a stand-in: sanitising twice changes nothing
        if value not in self.seen:
            self.seen[value] = f"00000000-0000-0000-0000-{len(self.seen) + 1:012d}"
        return self.seen[value]


# The test proxy's own placeholder for a subscription (the JavaScript recordings): a stand-in like any other id.
PLACEHOLDER = "azure_subscription_id"


def _ids(text: str, ids: Ids) -> str:
    if PLACEHOLDER in text:
        text = text.replace(PLACEHOLDER, ids.stand_in(PLACEHOLDER))
    return GUID.sub(ids, text)


def _url(url: str, ids: Ids) -> str:
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k.lower() in KEEP_QUERY]
    path = _ids(parts.path, ids)
    return urlunsplit(("https", "management.azure.com", path, urlencode(query, safe="$:"), ""))


def _text(value: str, ids: Ids) -> str:
    if value.startswith("https://") and "/subscriptions/" in value:
        return _url(value, ids)
    value = JWT.sub("Sanitized", value)
    value = EMAIL.sub("user@example.com", value)
    if SAS_QUERY.search(value):
        return "Sanitized"
    return _ids(value, ids)


def _body(value: Any, ids: Ids) -> Any:
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for k, v in value.items():
            if (SECRET_FIELDS.search(k) or k.lower() in PERSONAL_FIELDS) and isinstance(v, str) and v not in ("", "Sanitized"):
                out[k] = "Sanitized"
            else:
                out[k] = _body(v, ids)
        return out
    if isinstance(value, list):
        return [_body(v, ids) for v in value]
    if isinstance(value, str):
        return _text(value, ids)
    return value


def _headers(headers: dict[str, str], keep: set[str], ids: Ids, rate_limits: bool) -> dict[str, str]:
    out = {}
    for name, value in headers.items():
        low = name.lower()
        if low in keep or (rate_limits and low.startswith(RATE_LIMIT_PREFIX)):
            out[name] = _url(value, ids) if low in ("location", "azure-asyncoperation") else value
    return out


def sanitise(session: dict[str, Any]) -> dict[str, Any]:
    ids = Ids()
    entries = []
    for entry in session.get("Entries", []):
        entries.append(
            {
                "RequestUri": _url(entry["RequestUri"], ids),
                "RequestMethod": entry["RequestMethod"],
                "RequestHeaders": _headers(entry.get("RequestHeaders") or {}, REQUEST_HEADERS, ids, False),
                "RequestBody": _body(entry.get("RequestBody"), ids),
                "StatusCode": entry["StatusCode"],
                "ResponseHeaders": _headers(entry.get("ResponseHeaders") or {}, RESPONSE_HEADERS, ids, True),
                "ResponseBody": _body(entry.get("ResponseBody"), ids),
            }
        )
    variables = {k: _text(str(v), ids) for k, v in (session.get("Variables") or {}).items()}
    return {"Entries": entries, "Variables": variables}


def leaks(session: dict[str, Any]) -> list[str]:
    """What a sanitised session must not contain: each a sentence naming the entry."""
    problems = []
    for i, entry in enumerate(session.get("Entries", [])):
        extra = {h for h in entry.get("RequestHeaders", {}) if h.lower() not in REQUEST_HEADERS}
        if extra:
            problems.append(f"entry {i}: request headers {sorted(extra)}")
        text = json.dumps(entry)
        if JWT.search(text) or "Bearer ey" in text:
            problems.append(f"entry {i}: a bearer token")
        if any(not m.endswith("@example.com") for m in EMAIL.findall(text)):
            problems.append(f"entry {i}: an e-mail address")
        if re.search(r"[?&](sig|c|s|h)=", text):
            problems.append(f"entry {i}: a signed query string")
        if re.search(r"AccountKey=|SharedAccessSignature=|ssh-rsa ", text):
            problems.append(f"entry {i}: a connection string or key")
    return problems


def main(argv: list[str]) -> int:
    if argv and argv[0] == "--check":
        bad = 0
        for name in argv[1:]:
            for problem in leaks(json.loads(Path(name).read_text())):
                print(f"{name}: {problem}")
                bad += 1
        return 1 if bad else 0
    source = Path(argv[0])
    target = Path(argv[1]) if len(argv) > 1 else source
    target.write_text(json.dumps(sanitise(json.loads(source.read_text())), indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
