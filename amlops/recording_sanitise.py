"""What a recorded HTTP exchange may keep (``AMLOPS_RECORD``): the rules that turn one exchange into an entry of the
Azure SDK test-proxy recording format, with no secret left in it and the caller's ids replaced. Pure: no I/O.

The format is the test proxy's (Azure/azure-sdk-tools, tools/test-proxy, ``RecordEntry.Serialize``), as the
recordings in Azure/azure-sdk-assets hold it: ``{"Entries": [{"RequestUri", "RequestMethod", "RequestHeaders",
"RequestBody", "StatusCode", "ResponseHeaders", "ResponseBody"}], "Variables": {}}``. A body is ``null`` when empty;
JSON whose root is an object is written as JSON; other text (``text/*``, ``*json``, ``*xml``, form data, or any
``charset=utf-8``) as a string, or as an array of lines when it has line breaks; anything else base64.

What goes, modelled on the test proxy's default sanitisers (``SanitizerDictionary.DefaultSanitizerList``):

- request headers, all but those a replay needs (``Content-Type``, conditional and range headers, and storage's
  operation headers ``x-ms-*`` bar the client's request id, date and any key or copy-source credential): no
  ``Authorization``, no cookies, no user agent naming the machine;
- response headers that carry credentials (``Set-Cookie``, keys, SAS);
- SAS query parameters (``sig``, ``se``, ``st``, ``sv``, ``sk*``), connection-string secrets (``AccountKey=``,
  ``SharedAccessKey=``, ``Password=``, ``InstrumentationKey=`` ...), bearer tokens and JWTs, wherever they appear:
  URIs, header values, string values of JSON bodies and text bodies;
- JSON values under a secret's name (``key``, ``*Key``, ``*Keys``, ``*Password``, ``*Secret``, ``*Token``,
  ``*ConnectionString``, ``sasUri``...): listKeys and listSecrets answers, datastore secrets, endpoint tokens;
- personal names: ``createdBy``/``lastModifiedBy``/``userName``/``userPrincipalName``/``mail`` and the display
  name of a Microsoft Graph user, group or service principal.

Each becomes ``Sanitized``, the test proxy's value; an empty value stays empty (it hides nothing).

Ids: subscription, tenant and principal (object, client, application) ids become placeholders
``00000000-0000-0000-0000-`` + 12 hex digits, the same placeholder for the same id everywhere in a run: the
placeholder is a keyed hash of the id (HMAC-SHA256 with the run's salt, which is never written), so every process of
a run that shares the salt agrees, and nobody without the salt can test a guess. Ids are learned where they show
what they are (``/subscriptions/{id}``, ``tenantId``, ``principalId``, ``objectId``..., ``tenantId=``/``objectId=`` in
``x-ms-operation-identifier``, the authority in ``WWW-Authenticate``) and replaced everywhere in the file when it is
written, so an id first seen where nothing said what it was is replaced too.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import json
import re
import textwrap
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

SANITIZED = "Sanitized"  # the test proxy's replacement value
PLACEHOLDER_PREFIX = "00000000-0000-0000-0000-"
GUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_GUID = GUID.pattern

# -- headers

REQUEST_HEADERS_KEPT = frozenset({"content-type", "if-match", "if-none-match", "range"})
# Storage's x-ms-* request headers say what the operation is (x-ms-lease-action, x-ms-blob-type, x-ms-version...);
# these say who sent it, when, or carry a credential.
REQUEST_HEADERS_DROPPED = frozenset({
    "x-ms-client-request-id", "x-ms-date", "x-ms-encryption-key", "x-ms-encryption-key-sha256", "x-ms-copy-source",
    "x-ms-copy-source-authorization", "x-ms-rename-source", "x-ms-file-rename-source", "x-ms-file-rename-source-authorization",
    "x-ms-authorization-auxiliary",
})  # fmt: skip
RESPONSE_HEADERS_DROPPED = frozenset({"set-cookie", "cookie", "authorization", "x-ms-encryption-key", "x-ms-encryption-key-sha256", "api-key", "subscription-key", "aeg-sas-token", "aeg-sas-key"})

# -- strings: SAS, connection strings, tokens

_SAS = re.compile(r"(?<![A-Za-z0-9_-])(sig|se|st|sv|skoid|sktid|skt|ske|sks|skv|skdutid|code|access_token|refresh_token|client_secret|client_assertion|password)=([^&;\"'\s,\\]+)", re.IGNORECASE)
_CONNECTION = re.compile(r"(?<![A-Za-z0-9_])(AccountKey|SharedAccessKey|SharedAccessSignature|Password|Pwd|Secret|ClientSecret|InstrumentationKey|AccessKey)=([^;\"'\s&,\\]+)", re.IGNORECASE)
_BEARER = re.compile(r"\b(Bearer|SharedKey|Basic)\s+(?![A-Za-z_]+=)[A-Za-z0-9._~+/=:-]{8,}")
_JWT = re.compile(r"\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*")


def sanitise_text(text: str) -> str:
    """A URI, header value or string with every SAS signature, connection-string secret and token replaced."""
    if "=" in text:
        text = _SAS.sub(lambda m: f"{m.group(1)}={SANITIZED}", text)
        text = _CONNECTION.sub(lambda m: f"{m.group(1)}={SANITIZED}", text)
    if "Bearer" in text or "SharedKey" in text or "Basic" in text:
        text = _BEARER.sub(lambda m: f"{m.group(1)} {SANITIZED}", text)
    return _JWT.sub(SANITIZED, text) if "eyJ" in text else text


# -- JSON keys

_SECRET_NAMES = frozenset({"key", "keys", "secret", "secrets", "password", "passwords", "token", "sig", "signature", "certificate", "pfx", "sasuri", "sasurl", "containersasuri"})
_SECRET_SUFFIXES = ("key", "keys", "password", "passwords", "secret", "token", "connectionstring", "connectionstrings", "sastoken", "sasuri")
# Inside a secret's object these name what the secret is, not the secret: kept.
_SECRET_KEPT = frozenset({"name", "keyname", "secretstype", "credentialstype", "type", "tokentype", "expirytimeutc", "refreshaftertimeutc"})
_PERSONAL_NAMES = frozenset({"createdby", "lastmodifiedby", "username", "userprincipalname", "principalname", "signinname", "mail", "othermails", "email", "upn", "givenname", "surname"})
_GRAPH_TYPES = ("#microsoft.graph.user", "#microsoft.graph.group", "#microsoft.graph.serviceprincipal")
# Keys whose GUID values are subscription, tenant or principal ids.
_ID_NAMES = frozenset({
    "subscriptionid", "tenantid", "tenant", "tid", "hometenantid", "principalid", "objectid", "oid", "clientid", "applicationid", "appid",
    "userid", "userorgid", "ids", "principalids", "assigneeobjectid", "delegatedmanagedidentityresourceid",
})  # fmt: skip
_ID_CONTEXTS = re.compile(
    rf"/subscriptions/({_GUID})"
    rf"|(?:tenantId|objectId|principalId|oid|tid)=({_GUID})"
    rf"|(?:login\.microsoftonline\.(?:com|us)|login\.chinacloudapi\.cn|sts\.windows\.net|login\.windows\.net)/({_GUID})"
    rf"|/(?:users|groups|servicePrincipals|directoryObjects|principals|tenants)/({_GUID})",
    re.IGNORECASE,
)


def is_secret_name(name: str) -> bool:
    lower = name.lower()
    return lower in _SECRET_NAMES or (lower.endswith(_SECRET_SUFFIXES) and not lower.endswith("type"))


@functools.lru_cache(maxsize=4096)
def _key(name: str) -> tuple[bool, bool, bool, bool]:
    """What a JSON key says of its value: (an id, a secret, a person's name, kept inside a secret)."""
    lower = name.lower()
    return lower in _ID_NAMES, is_secret_name(name), lower in _PERSONAL_NAMES, lower in _SECRET_KEPT


def is_placeholder(guid: str) -> bool:
    return guid.lower().startswith(PLACEHOLDER_PREFIX)


# -- bodies


def is_text(content_type: str | None) -> bool:
    """The test proxy's ContentTypeUtilities.TryGetTextEncoding: which bodies it writes as text."""
    if not content_type:
        return False
    lower = content_type.lower()
    if "; charset=utf-8" in lower:
        return True
    base = lower.split(";", 1)[0].strip()
    return base.startswith("text/") or base.endswith(("json", "xml", "-urlencoded")) or base.startswith("application/json")


@dataclass(frozen=True)
class Base64Body:
    """A body the test proxy writes as base64: kept as text (sanitised) when it is UTF-8, so the file's ids can still
    be replaced in it when the file is written; else the bytes as they were."""

    text: str | None = None
    data: bytes = b""


Body = Any  # None, a JSON value, a string, a list of lines, or a Base64Body
_BODIES = ("RequestBody", "ResponseBody")


def text_is_final(entry: dict[str, Any]) -> bool:
    """Whether an entry's text can be written once and reused: not when a body is base64, where an id learned
    later could not be found by replacing the file's text."""
    return not any(isinstance(entry.get(k), Base64Body) for k in _BODIES)


def _lines(text: str) -> str | list[str]:
    parts = re.findall(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+$", text)
    return text if len(parts) <= 1 else parts


class Sanitiser:
    """Sanitises exchanges into entries; remembers the run's ids (real id -> placeholder), never secrets."""

    def __init__(self, salt: bytes) -> None:
        self._salt = salt
        self.placeholders: dict[str, str] = {}  # lower-case real id -> placeholder

    # ids

    def placeholder(self, guid: str) -> str:
        lower = guid.lower()
        if is_placeholder(lower):
            return lower
        found = self.placeholders.get(lower)
        if found is None:
            digest = hmac.new(self._salt, lower.encode(), hashlib.sha256).hexdigest()
            found = self.placeholders[lower] = PLACEHOLDER_PREFIX + digest[:12]
        return found

    def learn_text(self, text: str) -> None:
        if "/" not in text and "=" not in text:  # every context names an id after one or the other
            return
        for match in _ID_CONTEXTS.finditer(text):
            self.placeholder(next(g for g in match.groups() if g))

    def _learn_value(self, value: Any) -> None:
        if isinstance(value, str):
            for guid in GUID.findall(value):
                self.placeholder(guid)
        elif isinstance(value, list):
            for item in value:
                self._learn_value(item)

    def replace_ids(self, text: str) -> str:
        """Every id the run has learned, replaced by its placeholder (case-insensitively)."""
        if not self.placeholders:
            return text
        return GUID.sub(lambda m: self.placeholders.get(m.group(0).lower(), m.group(0)), text)

    # JSON

    def json_value(self, value: Any, secret: bool = False) -> Any:
        """A parsed JSON body with secrets and personal names replaced; ids learned (replaced when written)."""
        if isinstance(value, dict):
            graph_object = str(value.get("@odata.type", "")).lower() in _GRAPH_TYPES
            out: dict[str, Any] = {}
            for k, v in value.items():
                is_id, is_secret, personal, kept = _key(k)
                if is_id:
                    self._learn_value(v)
                if secret and kept:
                    out[k] = self.json_value(v)
                elif secret or is_secret or personal or (graph_object and k.lower() == "displayname"):
                    out[k] = self.json_value(v, secret=True)
                else:
                    out[k] = self.json_value(v)
            return out
        if isinstance(value, list):
            return [self.json_value(v, secret) for v in value]
        if isinstance(value, str):
            if secret:
                return SANITIZED if value else value
            self.learn_text(value)
            return sanitise_text(value)
        return value

    def body(self, data: bytes | str | None, content_type: str | None) -> Body:
        """A request or response body as the test proxy writes it, sanitised."""
        if data is None or len(data) == 0:
            return None
        raw = data.encode() if isinstance(data, str) else bytes(data)
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            return Base64Body(data=raw)  # binary (a checkpoint file): no text to hide a secret in
        try:
            parsed = json.loads(text)
        except ValueError:
            parsed = None
            clean = self._text(text)
        else:
            if isinstance(parsed, dict) or (is_text(content_type) and isinstance(parsed, (int, float, bool))):
                clean_json = self.json_value(parsed)
                if is_text(content_type):
                    return clean_json
                clean = json.dumps(clean_json)
            else:
                clean = json.dumps(self.json_value(parsed)) if isinstance(parsed, list) else self._text(text)
        if is_text(content_type):
            return _lines(clean)
        return Base64Body(text=clean)

    def _text(self, text: str) -> str:
        self.learn_text(text)
        return sanitise_text(text)

    def headers(self, headers: Mapping[str, str], request: bool) -> dict[str, str]:
        out: dict[str, str] = {}
        for name, value in headers.items():
            lower = name.lower()
            if request:
                kept = lower in REQUEST_HEADERS_KEPT or (lower.startswith("x-ms-") and lower not in REQUEST_HEADERS_DROPPED)
            else:
                kept = lower not in RESPONSE_HEADERS_DROPPED and not is_secret_name(lower.replace("-", ""))
            if kept:
                out[name] = self._text(str(value))
        return out

    def entry(
        self,
        method: str,
        uri: str,
        request_headers: Mapping[str, str],
        request_body: bytes | str | None,
        status: int,
        response_headers: Mapping[str, str],
        response_body: bytes | str | None,
    ) -> dict[str, Any]:
        """One exchange as a test-proxy entry, every secret already gone (ids go when the file is written)."""
        req_type = next((v for k, v in request_headers.items() if k.lower() == "content-type"), None)
        resp_type = next((v for k, v in response_headers.items() if k.lower() == "content-type"), None)
        return {
            "RequestUri": self._text(uri),
            "RequestMethod": method.upper(),
            "RequestHeaders": self.headers(request_headers, request=True),
            "RequestBody": self.body(request_body, req_type),
            "StatusCode": status,
            "ResponseHeaders": self.headers(response_headers, request=False),
            "ResponseBody": self.body(response_body, resp_type),
        }

    def recording(self, entries: Iterable[dict[str, Any]], indent: bool = True) -> str:
        """The file's text: the entries, every learned id replaced, indented as the test proxy writes (or compact:
        the same JSON, written fast while a run goes on)."""
        return self.document([self.entry_text(e, indent) for e in entries], indent)

    def entry_text(self, entry: dict[str, Any], indent: bool = True) -> str:
        """One entry as it sits in the file (ids not yet replaced: the file's text is, as a whole)."""
        encoded = {k: self._encode(v) if k in _BODIES else v for k, v in entry.items()}
        if not indent:
            return json.dumps(encoded, ensure_ascii=False)
        return textwrap.indent(json.dumps(encoded, indent=2, ensure_ascii=False), "    ")

    def document(self, entry_texts: list[str], indent: bool = True) -> str:
        """The file from its entries' texts, every id learned so far replaced."""
        if not indent:
            return self.replace_ids('{"Entries": [' + ", ".join(entry_texts) + '], "Variables": {}}') + "\n"
        entries = "[\n" + ",\n".join(entry_texts) + "\n  ]" if entry_texts else "[]"
        return self.replace_ids('{\n  "Entries": ' + entries + ',\n  "Variables": {}\n}') + "\n"

    def _encode(self, body: Body) -> Any:
        if isinstance(body, Base64Body):
            data = self.replace_ids(body.text).encode() if body.text is not None else body.data
            return base64.b64encode(data).decode()
        return body


def sanitise_scenario(sanitiser: Sanitiser, spec: dict[str, Any]) -> dict[str, Any]:
    """An emulator scenario with the ids a recording replaces, replaced the same way: what a replay loads so that
    the recording's requests name what exists. Learns the ids it finds as it goes."""
    for sub in spec.get("subscriptions") or []:
        if GUID.fullmatch(str(sub.get("id", ""))):
            sanitiser.placeholder(str(sub["id"]))
    text = json.dumps(spec)
    sanitiser.learn_text(text)
    for match in re.finditer(rf"(?<![A-Za-z])(?:{'|'.join(_ID_NAMES)})\"\s*:\s*\"({_GUID})", text, re.IGNORECASE):
        sanitiser.placeholder(match.group(1))
    return dict(json.loads(sanitiser.replace_ids(text)))
