"""Local HTTP(S) servers standing in for the services a team's server and workers reach (a git host, chat and
e-mail services, webhooks): each binds a port the OS picks and serves from a daemon thread."""

from __future__ import annotations

import json
import ssl
import threading
import time
from collections.abc import Callable, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from amlops.emulator.certs import make_certificate


def tls_context(directory: Path, hosts: tuple[str, ...] = ()) -> tuple[ssl.SSLContext, Path]:
    """A server-side TLS context with a certificate made in ``directory`` for 127.0.0.1 and ``hosts``, and the
    certificate's path (the CA bundle clients trust)."""
    ca, key = make_certificate(directory, hosts)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(ca, key)
    return context, ca


class LocalServer:
    """``handler`` served on 127.0.0.1 at ``url`` (over TLS when given a ``context``) until ``stop``."""

    def __init__(self, handler: type[BaseHTTPRequestHandler], context: ssl.SSLContext | None = None) -> None:
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.server.daemon_threads = True
        if context is not None:
            self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.url = f"{'https' if context else 'http'}://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def first_mentioning(received: Sequence[tuple[Any, ...]], matches: Callable[[tuple[Any, ...]], bool], about: str, where: str, timeout: float) -> Any:
    """The first JSON body (each entry's last element) of the entries ``matches`` accepts that mentions ``about``
    (a run id), waiting up to ``timeout`` seconds for it to arrive."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for entry in list(received):
            if matches(entry) and about in json.dumps(entry[-1]):
                return entry[-1]
        time.sleep(0.3)
    raise AssertionError(f"nothing about {about} reached {where}; got {[(*entry[:-1], json.dumps(entry[-1])[:300]) for entry in received]}")
