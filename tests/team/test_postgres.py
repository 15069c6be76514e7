"""`make team-db`: PostgreSQL from Debian's packages for the team's server, started by the project itself."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path

from amlops.postgres import bin_dir
from deployments.stack import ROOT
from tests.team.conftest import Team


def test_make_team_db_starts_a_cluster_with_pg_trgm_and_make_team_db_stop_stops_it() -> None:
    directory = Path(tempfile.mkdtemp(prefix="amlops-make-pg-")) / "db"
    started = subprocess.run(["make", "-s", "team-db", f"TEAM_DB={directory}"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    try:
        assert started.returncode == 0, started.stderr
        line = started.stdout.strip().splitlines()[-1]
        assert line.startswith("export PREFECT_SERVER_DATABASE_CONNECTION_URL=postgresql+asyncpg://postgres@127.0.0.1:")
        port = line.rsplit(":", 1)[1].split("/")[0]
        psql = [str(bin_dir() / "psql"), "-h", "127.0.0.1", "-p", port, "-U", "postgres", "-d", "prefect", "-tAc", "SELECT extname FROM pg_extension"]
        assert "pg_trgm" in subprocess.run(psql, capture_output=True, text=True, check=True).stdout.split()
        owner = (directory / "data" / "PG_VERSION").owner()
        assert owner != "root", "the cluster belongs to an unprivileged user"
    finally:
        stopped = subprocess.run(["make", "-s", "team-db-stop", f"TEAM_DB={directory}"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert stopped.returncode == 0, stopped.stderr
    assert not (directory / "data" / "postmaster.pid").exists()
    shutil.rmtree(directory.parent, ignore_errors=True)


def test_the_team_server_keeps_what_it_is_told_in_postgresql(team: Team, team_db: str) -> None:
    """A mistyped database setting would leave the server on SQLite, and every other team test would pass."""
    name = f"pg-probe-{uuid.uuid4().hex[:8]}"
    flow_id = team.call("POST", "/flows/", {"name": name})["id"]
    port = team_db.rsplit(":", 1)[1].split("/")[0]
    psql = [str(bin_dir() / "psql"), "-h", "127.0.0.1", "-p", port, "-U", "postgres", "-d", "prefect", "-tAc", f"SELECT name FROM flow WHERE id = '{flow_id}'"]
    found = subprocess.run(psql, capture_output=True, text=True)
    assert found.stdout.strip() == name, f"the flow the server accepted is not in the team's PostgreSQL: {found.stderr.strip()}"
