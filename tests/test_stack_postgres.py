"""The stack's own PostgreSQL (STACK_POSTGRES=1), the one the game day stops: a private cluster initialised
once, run in the foreground under stack.supervise on its own port (never the machine's shared server), as an
unprivileged account when we are root; stopped, it comes back with its data."""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg
import pytest

from stack import postgres, tools
from tests.fixtures.servers import PROJECT_DIR, free_port

pytestmark = pytest.mark.skipif(not tools.find("pg_ctl"), reason="PostgreSQL's server tools are not installed")


def connect(port: int, timeout: float = 30) -> psycopg.Connection:
    deadline = time.monotonic() + timeout
    while True:
        try:
            return psycopg.connect(host="127.0.0.1", port=port, user="postgres", dbname="postgres", autocommit=True,
                                   connect_timeout=2)
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


@pytest.fixture
def cluster_dir():
    # Not under pytest's tmp_path: that is private to root, and the server may run as another account.
    base = Path(tempfile.mkdtemp(prefix="studio-stack-postgres-"))
    base.chmod(0o755)
    yield base / "postgres"
    shutil.rmtree(base, ignore_errors=True)


def test_the_stacks_postgres_runs_supervised_and_comes_back_with_its_data(cluster_dir):
    port = free_port()
    command = postgres.server_command(cluster_dir, "127.0.0.1", port)
    assert (cluster_dir / "data" / "PG_VERSION").exists()
    assert postgres.server_command(cluster_dir, "127.0.0.1", port) == command, "initialised once"
    run_dir = cluster_dir.parent / "run"
    proc = subprocess.Popen([sys.executable, "-m", "stack.supervise", "postgres", "--", command], cwd=PROJECT_DIR,
                            env={**os.environ, "STACK_RUN_DIR": str(run_dir)}, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    try:
        with connect(port) as conn:
            assert conn.execute("show port").fetchone()[0] == str(port)
            conn.execute("create table kept (n int); insert into kept values (42); checkpoint")
        uid = os.stat(cluster_dir / "data").st_uid
        assert uid != 0, "PostgreSQL refuses root: the cluster belongs to an unprivileged account"
        time.sleep(5.5)  # past the supervisor's quick-exit limit
        group = int((run_dir / "pids" / "postgres.pid").read_text())
        os.killpg(group, signal.SIGTERM)  # what the game day's fault does
        with connect(port) as conn:
            assert conn.execute("select n from kept").fetchone() == (42,)
        assert int((run_dir / "pids" / "postgres.pid").read_text()) != group
    finally:
        proc.send_signal(signal.SIGTERM)
        out = proc.communicate(timeout=30)[0]
    assert proc.returncode == 0, out
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(host="127.0.0.1", port=port, user="postgres", dbname="postgres", connect_timeout=2)
