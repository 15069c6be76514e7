"""A busy Prefect server, as an on-call engineer meets it behind a proxy: an HTTP proxy in front of the real server
that answers a share of the requests 429, 500 or 503, or drops the connection before or after forwarding them."""

from __future__ import annotations

import http.client
import random
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

KINDS = ("429", "500", "503", "drop", "drop_after")
HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "content-encoding"}


class FaultyProxy:
    def __init__(self, upstream: str, rate: float, seed: int, first: dict[str, str] | None = None) -> None:
        """``first``: a fault for the first request whose path contains the key (e.g. {"/resume": "drop_after"})."""
        parts = urlsplit(upstream)
        self.first = dict(first or {})
        self.host, self.port, self.prefix = parts.hostname or "127.0.0.1", parts.port or 80, parts.path.rstrip("/")
        self.rate, self._random, self._lock = rate, random.Random(seed), threading.Lock()
        self.log: list[tuple[str, str, str]] = []  # (method, path, fault or "")
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _serve(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                fault = proxy._pick(self.path)
                proxy.log.append((self.command, self.path, fault))
                if fault in ("429", "500", "503"):
                    self._reply(int(fault), {"Retry-After": "0"} if fault != "500" else {}, b'{"detail": "injected"}')
                    return
                if fault == "drop":
                    self._drop()
                    return
                status, headers, payload = proxy._forward(self.command, self.path, dict(self.headers), body)
                if fault == "drop_after":
                    self._drop()
                    return
                self._reply(status, headers, payload)

            def _reply(self, status: int, headers: dict[str, str], payload: bytes) -> None:
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def _drop(self) -> None:
                self.close_connection = True
                self.connection.shutdown(2)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's name
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}{self.prefix}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def _pick(self, path: str) -> str:
        with self._lock:
            for part in [p for p in self.first if p in path]:
                return self.first.pop(part)
            return self._random.choice(KINDS) if self._random.random() < self.rate else ""

    def _forward(self, method: str, path: str, headers: dict[str, str], body: bytes) -> tuple[int, dict[str, str], bytes]:
        conn = http.client.HTTPConnection(self.host, self.port, timeout=60)
        try:
            conn.request(method, path, body=body or None, headers={k: v for k, v in headers.items() if k.lower() not in HOP | {"host", "accept-encoding"}})
            response = conn.getresponse()
            return response.status, {k: v for k, v in response.getheaders() if k.lower() not in HOP}, response.read()
        finally:
            conn.close()

    def __enter__(self) -> FaultyProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
