"""Stand-ins for the chat and e-mail services on-call uses, whose addresses no block lets you change.

Prefect's Slack block (and Apprise beneath it) posts to https://hooks.slack.com, its SendGrid block to
https://api.sendgrid.com: fixed hosts. The team's server reaches them here the way a server behind a
TLS-inspecting corporate proxy does: through an HTTPS proxy (``HTTPS_PROXY``) whose certificate it trusts
(``REQUESTS_CA_BUNDLE``). The proxy answers each CONNECT itself, as the named host, and keeps every request.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

from tests.team.local_http import LocalServer, first_mentioning, tls_context

SLACK, SENDGRID = "hooks.slack.com", "api.sendgrid.com"
HOSTS = (SLACK, SENDGRID)
# What each service answers a message it took (Slack's incoming webhooks: 200 "ok"; SendGrid's mail/send: 202).
ANSWERS = {SLACK: (200, b"ok"), SENDGRID: (202, b"")}


class Services:
    """An HTTPS proxy that is hooks.slack.com and api.sendgrid.com: every (host, path, JSON body) POSTed."""

    def __init__(self) -> None:
        self.directory = Path(tempfile.mkdtemp(prefix="amlops-services-"))
        context, self.ca = tls_context(self.directory, HOSTS)
        self.received: list[tuple[str, str, Any]] = []
        got = self.received

        class Proxy(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            host = ""

            def do_CONNECT(self) -> None:
                host = self.path.rsplit(":", 1)[0]
                if host not in HOSTS:
                    self.send_error(502, f"{host} is not one of the stand-ins")
                    return
                self.send_response(200, "Connection established")
                self.end_headers()
                self.wfile.flush()
                tls = context.wrap_socket(self.connection, server_side=True)
                self.connection, self.host = tls, host
                self.rfile, self.wfile = tls.makefile("rb"), tls.makefile("wb")
                self.close_connection = False

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                got.append((self.host, self.path, json.loads(body)))
                status, answer = ANSWERS.get(self.host, (404, b""))
                self.send_response(status)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args: object) -> None:
                pass

        self.local = LocalServer(Proxy)
        self.proxy = self.local.url

    def env(self) -> dict[str, str]:
        """What the Prefect server's environment needs to reach the services through the proxy."""
        return {"HTTPS_PROXY": self.proxy, "https_proxy": self.proxy, "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost", "REQUESTS_CA_BUNDLE": str(self.ca)}

    def wait(self, host: str, about: str, timeout: float = 90) -> Any:
        """The first body POSTed to ``host`` that mentions ``about`` (a run id)."""
        return first_mentioning(self.received, lambda got: got[0] == host, about, host, timeout)

    def stop(self) -> None:
        self.local.stop()
        shutil.rmtree(self.directory, ignore_errors=True)

