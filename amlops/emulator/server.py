"""The HTTPS server: parse, log, throttle, inject faults, dispatch through the routing table."""

from __future__ import annotations

import json
import re
import ssl
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from amlops.emulator import ids, lro, routes, rules, scenario
from amlops.emulator.certs import make_certificate
from amlops.emulator.control import Controls, RequestLog
from amlops.emulator.errors import ArmError
from amlops.emulator.faults import FaultInjector
from amlops.emulator.http import Request, Response
from amlops.emulator.models import jobs
from amlops.emulator.state import State
from amlops.emulator.throttle import Throttler, global_remaining, kind_of

FAULT_STATUS = {"429": (429, "TooManyRequests"), "500": (500, "InternalServerError"), "503": (503, "ServiceUnavailable"), "409": (409, "Conflict")}


class Emulator:
    """The emulator as an object: start it, point clients at ``base_url`` trusting ``ca_file``."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, scenario_spec: dict[str, Any] | None = None) -> None:
        self.state = State()
        self.throttler = Throttler()
        self.faults = FaultInjector()
        self.log = RequestLog()
        self.controls = Controls(self.state, self.throttler, self.faults, self.log)
        self._dir = tempfile.TemporaryDirectory(prefix="amlops-emulator-")
        self.ca_file, key_file = make_certificate(Path(self._dir.name))
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.ca_file, key_file)
        self._server = _Server((host, port), _Handler)
        self._server.emulator = self
        # Handshake in the handler thread, so one slow client cannot stall accept().
        self._server.socket = context.wrap_socket(self._server.socket, server_side=True, do_handshake_on_connect=False)
        self.host, self.port = host, int(self._server.server_address[1])  # the port the system gave when asked for 0
        self.base_url = f"https://{self.host}:{self.port}"
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        if scenario_spec:
            scenario.load(self.state, scenario_spec)

    def start(self) -> Emulator:
        self._thread = threading.Thread(target=self._server.serve_forever, name="amlops-emulator", daemon=True)
        self._thread.start()
        self._start_ticker()
        return self

    def _start_ticker(self) -> None:
        threading.Thread(target=self._tick, name="amlops-emulator-jobs", daemon=True).start()

    def _tick(self, every: float = 0.05) -> None:
        """Jobs progress on their own, as running jobs do."""
        while not self._stopping.wait(every):
            with self.state.lock:
                try:
                    jobs.tick(self.state)
                except Exception:  # noqa: BLE001 - a failed checkpoint write must not stop the clock; reads retry it
                    pass

    def serve_forever(self) -> None:
        self._start_ticker()
        self._server.serve_forever()

    def stop(self) -> None:
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()
        self._dir.cleanup()

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def env(self) -> dict[str, str]:
        """The environment that points amlops (and its tests) at this emulator."""
        return {"AMLOPS_TARGET": "emulator", "AMLOPS_EMULATOR_URL": self.base_url, "AMLOPS_EMULATOR_CA": str(self.ca_file)}

    def handle(self, method: str, raw_path: str, headers: dict[str, str], raw_body: bytes) -> Response | None:
        """One request, start to finish. None means: drop the connection."""
        started = time.perf_counter()
        parts = urlsplit(raw_path)
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        try:
            body = json.loads(raw_body) if raw_body.strip() else None
        except ValueError:
            body = ArmError(400, "InvalidRequestContent", "The request content is not valid JSON.")
        path = unquote(parts.path)
        if path.lower().startswith("/subscriptions/"):  # ARM reads an empty segment as none: it created an identity PUT
            path = re.sub("/{2,}", "/", path)  # to .../Microsoft.ManagedIdentity//userAssignedIdentities/x (move_validate_refused.json)
        req = Request(method, path, query, headers, body, self.base_url)
        if path.startswith("/_emulator"):
            return self._dispatch_control(req)
        kind = kind_of(method, path)
        entry: dict[str, Any] = {"time": time.time(), "method": method, "path": path, "api_version": req.api_version, "kind": kind, "fault": None}
        with self.state.lock:
            response = self._respond(req, kind, entry)
        entry["status"] = response.status if response else 0
        entry["ms"] = round((time.perf_counter() - started) * 1000, 3)
        self.log.add(entry)
        return response

    def _respond(self, req: Request, kind: str, entry: dict[str, Any]) -> Response | None:
        # ARM's throttling ("Understand how Azure Resource Manager throttles requests"): token buckets per subscription
        # and operation type (throttle.py). Azure ML's regional data plane (run history, model management) is not
        # reached through ARM, so ARM does not count it.
        sub = None if req.path.lower().startswith(rules.DATA_PLANE) else ids.subscription_of(req.path)
        headers: dict[str, str] = {}
        if sub:
            allowed, remaining, retry_after = self.throttler.check(sub, kind, self.state.clock.now())
            headers[f"x-ms-ratelimit-remaining-subscription-{kind}"] = str(remaining)
            headers[f"x-ms-ratelimit-remaining-subscription-global-{kind}"] = str(global_remaining(remaining))
            if not allowed:
                entry["fault"] = "throttled"
                return self._error(ArmError(429, "TooManyRequests", f"Too many {kind} for subscription '{sub}'; retry after {retry_after} s."), {**headers, "Retry-After": str(retry_after)})
        rule = self.faults.pick(req.method, req.path)
        if rule is not None:
            entry["fault"] = rule.kind
            if rule.kind == "drop":
                return None
            if rule.kind == "drop_after":
                self._respond_normally(req, headers, sub, kind)
                return None
            if rule.kind == "lro_failed":
                req.lro_error = (rule.code or "InternalServerError", rule.message or "The operation failed (injected by the emulator).")
            else:
                status, code = FAULT_STATUS[rule.kind]
                extra = {"Retry-After": str(rule.retry_after)} if rule.kind in ("429", "503") else {}
                error = ArmError(status, rule.code or code, rule.message or f"Injected {rule.kind} by the emulator.")
                return self._error(error, {**headers, **extra})
        return self._respond_normally(req, headers, sub, kind)

    def _respond_normally(self, req: Request, headers: dict[str, str], sub: str | None, kind: str) -> Response:
        try:
            if isinstance(req.body, ArmError):
                raise req.body
            lro.settle_due(self.state)
            route, req.params = routes.resolve(req.method, req.path)
            rules.enforce(self.state, req)  # permissions, management locks, policy: as ARM checks them
            response = route.handler(self.state, req)
        except ArmError as err:
            if sub and answered_by_gateway(req, err):
                self.throttler.refund(sub, kind)
                return self._error(err, {"x-ms-failure-cause": "gateway"})
            return self._error(err, headers)
        response.headers = {**headers, **response.headers}
        return response

    def _dispatch_control(self, req: Request) -> Response:
        try:
            with self.state.lock:
                return self.controls.handle(req)
        except ArmError as err:
            return self._error(err, {})
        except (KeyError, TypeError, ValueError) as err:
            return self._error(ArmError(400, "BadRequest", f"Bad control request: {err}"), {})

    @staticmethod
    def _error(err: ArmError, headers: dict[str, str]) -> Response:
        return Response(err.status, err.envelope(), {**headers, "x-ms-error-code": err.code})


TOP_LEVEL = re.compile(r"^/subscriptions/[^/]+/resourceGroups/[^/]+/providers/[^/]+/[^/]+/[^/]+/?$", re.IGNORECASE)


def answered_by_gateway(req: Request, err: ArmError) -> bool:
    """ARM's own refusals, made before any resource provider sees the request: a locked scope
    (lock_blocks_group_delete.json) and a GET of a top-level resource that does not exist (workspace_get_missing.json:
    404 ResourceNotFound). Both came with x-ms-failure-cause: gateway and no rate-limit header, and were not counted
    (after the refused delete, the next delete reported as many left as before)."""
    if err.code == "ScopeLocked":
        return True
    return req.method == "GET" and err.status == 404 and err.code == "ResourceNotFound" and bool(TOP_LEVEL.match(req.path))


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128
    emulator: Emulator


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as Azure's clients expect
    # A response leaves in one write: headers and body are buffered (socketserver.StreamRequestHandler's
    # wbufsize) and flushed together by handle_one_request, so no client waits on a delayed ACK for the body
    # (Nagle's algorithm holding a second small write). TCP_NODELAY as well, for bodies beyond the buffer.
    wbufsize = 1 << 16
    disable_nagle_algorithm = True
    server: _Server

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        response = self.server.emulator.handle(self.command, self.path, headers, raw)
        if response is None:  # an injected dropped connection
            self.close_connection = True
            self.connection.shutdown(2)
            return
        payload = b"" if response.body is None else json.dumps(response.body).encode()
        self.send_response(response.status)
        for name, value in response.headers.items():
            self.send_header(name, value)
        if payload:
            self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("x-ms-request-id", response.headers.get("x-ms-request-id", "emulator"))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    do_GET = do_PUT = do_POST = do_PATCH = do_DELETE = do_HEAD = _serve

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's name
        pass  # the request log at /_emulator/requests is the record
