"""A PostgreSQL cluster for a Prefect server, from Debian's packages, in a directory of its own.

initdb and pg_ctl refuse to run as root, so as root they run as Debian's unprivileged ``postgres``
user (``runuser``); as anyone else, as that user. The cluster listens on 127.0.0.1 only, trusts local
connections (a test or a one-machine team), and has pg_trgm, which Prefect's server requires.

``python -m amlops.postgres start DIR`` starts one (``make team-db``) and prints the connection URL for
PREFECT_SERVER_DATABASE_CONNECTION_URL; ``python -m amlops.postgres stop DIR`` stops it.
"""

from __future__ import annotations

import argparse
import glob
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

DATABASE = "prefect"
UNPRIVILEGED = "postgres"  # the system user Debian's postgresql package creates


def bin_dir() -> Path:
    """Debian installs the server binaries under /usr/lib/postgresql/<major>/bin; the newest wins."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3]))
    if found:
        return Path(found[-1]).parent
    which = shutil.which("initdb")
    if which:
        return Path(which).resolve().parent
    raise FileNotFoundError("PostgreSQL is not installed: `make postgres-deps` installs Debian's postgresql package.")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LocalPostgres:
    """``with LocalPostgres(directory) as url:`` a running cluster with a ``prefect`` database and pg_trgm."""

    def __init__(self, directory: Path, port: int | None = None) -> None:
        self.directory = Path(directory).resolve()
        self.data = self.directory / "data"
        self.chosen = port is None  # a port we picked may be taken before PostgreSQL binds it: then pick again
        self.port = port or free_port()
        self.bin = bin_dir()

    @property
    def url(self) -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/{DATABASE}"

    def _run(self, *args: str) -> subprocess.CompletedProcess[str]:
        command = [str(self.bin / args[0]), *args[1:]]
        if os.geteuid() == 0:
            command = ["runuser", "-u", UNPRIVILEGED, "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, cwd="/")
        if done.returncode != 0:
            raise RuntimeError(f"{args[0]} failed ({done.returncode}): {done.stderr.strip() or done.stdout.strip()}")
        return done

    def _prepare_directory(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            # The unprivileged user must own the cluster and be able to reach it.
            shutil.chown(self.directory, UNPRIVILEGED, UNPRIVILEGED)
            for parent in self.directory.parents:
                if parent == Path("/"):
                    break
                mode = parent.stat().st_mode
                if not mode & 0o001:
                    parent.chmod(mode | 0o001)  # search only: lets the user pass through, not list

    def start(self) -> str:
        self._prepare_directory()
        if not (self.data / "PG_VERSION").exists():
            self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync")
        if not self.running():
            self._start_listening()
        if self._psql("postgres", f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE}'") != "1":
            self._psql("postgres", f"CREATE DATABASE {DATABASE}")
        self._psql(DATABASE, "CREATE EXTENSION IF NOT EXISTS pg_trgm")
        (self.directory / "port").write_text(str(self.port))
        return self.url

    def _start_listening(self, attempts: int = 5) -> None:
        log = self.directory / "postgres.log"
        for attempt in range(1, attempts + 1):
            options = f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1"
            seen = log.stat().st_size if log.exists() else 0
            try:
                self._run("pg_ctl", "-D", str(self.data), "-l", str(log), "-o", options, "-w", "start")
                return
            except RuntimeError:
                said = log.read_text(errors="replace")[seen:] if log.exists() else ""
                if not (self.chosen and attempt < attempts and "could not bind" in said):
                    raise
                self.port = free_port()

    def _psql(self, database: str, sql: str) -> str:
        return self._run("psql", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-d", database, "-v", "ON_ERROR_STOP=1", "-qtAc", sql).stdout.strip()

    def running(self) -> bool:
        try:
            self._run("pg_ctl", "-D", str(self.data), "status")
        except RuntimeError:
            return False
        return True

    def stop(self) -> None:
        if self.running():
            self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def __enter__(self) -> str:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="A local PostgreSQL for a Prefect server")
    parser.add_argument("action", choices=["start", "stop"])
    parser.add_argument("directory", type=Path)
    parser.add_argument("--port", type=int, default=0, help="default: the port it used before, else a free one")
    args = parser.parse_args(argv)
    saved = args.directory / "port"
    port = args.port or (int(saved.read_text()) if saved.exists() else None)
    db = LocalPostgres(args.directory, port)
    if args.action == "stop":
        db.stop()
        return 0
    print(f"export PREFECT_SERVER_DATABASE_CONNECTION_URL={db.start()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
