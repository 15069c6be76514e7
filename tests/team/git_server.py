"""The team's private repository over HTTPS, as a git host serves it: git's own smart HTTP (`git http-backend`),
answering only requests that present the access token (HTTP basic auth with the token as the user name, as
git sends a token written into the URL, the way Prefect's git_clone writes it for a host it does not know;
Prefect adds a token to https URLs only). Its certificate is made at start: clients trust ``ca``."""

from __future__ import annotations

import base64
import shutil
import subprocess
import tempfile
from http.server import BaseHTTPRequestHandler
from pathlib import Path

from tests.team.local_http import LocalServer, tls_context


class GitServer:
    """Serves the bare repositories under ``root`` at ``url``/<name>.git; counts what it served and refused."""

    def __init__(self, root: Path, token: str) -> None:
        self.served: list[str] = []
        self.refused: list[str] = []
        served, refused = self.served, self.refused
        accepted = "Basic " + base64.b64encode(f"{token}:".encode()).decode()

        class Backend(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self._serve(b"")

            def do_POST(self) -> None:
                self._serve(self.rfile.read(int(self.headers.get("Content-Length") or 0)))

            def _serve(self, body: bytes) -> None:
                if self.headers.get("Authorization") != accepted:
                    refused.append(self.path)
                    self.send_response(401)
                    self.send_header("WWW-Authenticate", 'Basic realm="amlops"')
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                path, _, query = self.path.partition("?")
                cgi = {
                    "GIT_PROJECT_ROOT": str(root),
                    "GIT_HTTP_EXPORT_ALL": "1",
                    "PATH_INFO": path,
                    "QUERY_STRING": query,
                    "REQUEST_METHOD": self.command,
                    "CONTENT_TYPE": self.headers.get("Content-Type", ""),
                    "CONTENT_LENGTH": str(len(body)),
                    "HTTP_CONTENT_ENCODING": self.headers.get("Content-Encoding", ""),
                    "GIT_PROTOCOL": self.headers.get("Git-Protocol", ""),
                    "REMOTE_USER": "token",
                    "REMOTE_ADDR": "127.0.0.1",
                }
                done = subprocess.run(["git", "http-backend"], input=body, env=cgi, capture_output=True, timeout=120)
                head, _, content = done.stdout.partition(b"\r\n\r\n") if b"\r\n\r\n" in done.stdout else done.stdout.partition(b"\n\n")
                headers = [line.split(":", 1) for line in head.decode().splitlines() if ":" in line]
                status = next((int(v.split()[0]) for k, v in headers if k.lower() == "status"), 200)
                served.append(path)
                self.send_response(status)
                for name, value in headers:
                    if name.lower() != "status":
                        self.send_header(name, value.strip())
                self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                self.wfile.write(content)

            def log_message(self, *args: object) -> None:
                pass

        self.directory = Path(tempfile.mkdtemp(prefix="amlops-git-"))
        context, self.ca = tls_context(self.directory)
        self.local = LocalServer(Backend, context)
        self.url = self.local.url

    def stop(self) -> None:
        self.local.stop()
        shutil.rmtree(self.directory, ignore_errors=True)
