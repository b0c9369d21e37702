"""The install step both README commands run first (stack/tools.py): a machine that cannot install the system
tools stops within seconds with the exact command; one that can installs only what is missing, and a machine that
has everything never calls the package manager; `make test` without a PostgreSQL starts a throwaway one."""
from __future__ import annotations

import os
import pwd
import shutil
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from stack import tools
from tests.fixtures.servers import PROJECT_DIR, free_port

ALL_PACKAGES = "prometheus prometheus-alertmanager prometheus-redis-exporter redis-server victoria-metrics"
BOUND_SECONDS = 10  # the bound for "stops within seconds"


def bare_path(tmp_path: Path, python: str | None = None, **extra: str) -> str:
    """A PATH with python3 and make only (plus the given scripts): no system tool, no apt-get, no sudo."""
    bindir = tmp_path / "bin"
    bindir.mkdir(exist_ok=True)
    (bindir / "python3").symlink_to(python or getattr(sys, "_base_executable", sys.executable))
    (bindir / "make").symlink_to(shutil.which("make"))
    for name, body in extra.items():
        script = bindir / name
        script.write_text(body)
        script.chmod(stat.S_IRWXU | stat.S_IRGRP | stat.S_IXGRP | stat.S_IROTH | stat.S_IXOTH)
    return str(bindir)


def run_make(target: str, path: str, tmp_path: Path, user: str | None = None) -> tuple[subprocess.CompletedProcess,
                                                                                        float]:
    env = {"PATH": path, "HOME": str(tmp_path), "LANG": "C.UTF-8", "STACK_NO_DOCKER": "1",
           # Should the tool check ever let `make up` through, it starts nothing on anyone's ports.
           "STACK_RUN_DIR": str(tmp_path / "stack"), "APP_PORT": str(free_port()),
           "PROMETHEUS_PORT": str(free_port()), "ALERTMANAGER_PORT": str(free_port())}
    argv = [shutil.which("make"), "--no-print-directory", "-C", str(PROJECT_DIR), target]
    if user:
        account = pwd.getpwnam(user)
        argv = [shutil.which("setpriv"), f"--reuid={account.pw_uid}", f"--regid={account.pw_gid}", "--clear-groups", *argv]
    started = time.monotonic()
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60)
    return done, time.monotonic() - started


@pytest.mark.parametrize("target", ["test", "up"])
def test_without_apt_get_make_stops_within_seconds_with_the_install_command(tmp_path, target):
    done, seconds = run_make(target, bare_path(tmp_path), tmp_path)
    out = done.stdout + done.stderr
    print(f"\nmake {target} with no way to install: exit {done.returncode} after {seconds:.2f}s\n{out}")
    assert done.returncode != 0
    assert seconds < BOUND_SECONDS
    assert "apt-get is not on PATH" in out
    sudo = "" if os.geteuid() == 0 else "sudo "
    assert f"{sudo}apt-get update && {sudo}apt-get install -y --no-install-recommends {ALL_PACKAGES}" in out
    assert "pip install" not in out and "pytest" not in out, "nothing else started before the tools"


@pytest.mark.skipif(os.geteuid() != 0, reason="switching to an account without sudo needs root")
def test_a_user_without_sudo_is_told_the_sudo_command():
    # A directory and a Python the unprivileged account can reach (pytest's and pyenv's live under /root).
    home = Path(tempfile.mkdtemp(prefix="studio-test-nobody-"))
    home.chmod(0o755)
    # sudo exists but asks for a password (the script stands in for it: `sudo -n` fails as it would).
    path = bare_path(home, python=shutil.which("python3", path="/usr/bin:/bin"),
                     **{"apt-get": "#!/bin/sh\nexit 100\n", "sudo": "#!/bin/sh\nexit 1\n"})
    try:
        done, seconds = run_make("up", path, home, user="nobody")
    finally:
        shutil.rmtree(home, ignore_errors=True)
    out = done.stdout + done.stderr
    print(f"\nmake up as nobody: exit {done.returncode} after {seconds:.2f}s\n{out}")
    assert done.returncode != 0 and seconds < BOUND_SECONDS
    assert "not root, and sudo asks for a password" in out
    assert f"sudo apt-get update && sudo apt-get install -y --no-install-recommends {ALL_PACKAGES}" in out


FAKE_APT = """#!/bin/sh
# Records each call; `install` puts the tools the packages ship on PATH, as the real packages would.
echo "$*" >> {log}
case "$1" in install) for t in prometheus promtool prometheus-alertmanager amtool prometheus-redis-exporter \\
  redis-server victoria-metrics; do printf '#!/bin/sh\\n' > {bindir}/$t; /bin/chmod +x {bindir}/$t; done;; esac
"""


def test_root_installs_only_what_is_missing_once_and_then_never_calls_apt(tmp_path):
    bindir, log = tmp_path / "bin", tmp_path / "apt.log"
    path = bare_path(tmp_path, **{"apt-get": FAKE_APT.format(log=log, bindir=bindir)})
    env = {**os.environ, "PATH": path}
    argv = [os.path.realpath(bindir / "python3"), "-m", "stack.tools", "ensure"]
    if os.geteuid() != 0:
        pytest.skip("the install path as root; a user without sudo is covered above")
    first = subprocess.run(argv, cwd=PROJECT_DIR, env=env, capture_output=True, text=True, timeout=30)
    assert first.returncode == 0, first.stdout + first.stderr
    calls = log.read_text().splitlines()
    assert calls == ["update -q", f"install -y -q --no-install-recommends {ALL_PACKAGES}"]
    started = time.monotonic()
    again = subprocess.run(argv, cwd=PROJECT_DIR, env=env, capture_output=True, text=True, timeout=30)
    print(f"\nsecond ensure with every tool present: {time.monotonic() - started:.3f}s")
    assert again.returncode == 0 and again.stdout == ""
    assert log.read_text().splitlines() == calls, "a machine with every tool never reaches the package manager"


def test_postgres_server_tools_are_wanted_only_when_no_server_answers():
    assert "pg_ctl" not in tools.wanted("postgres://postgres@127.0.0.1:5432/postgres") or not tools.port_answers(
        "127.0.0.1", 5432)
    assert {"pg_ctl", "initdb"} <= set(tools.wanted(f"postgres://postgres@127.0.0.1:{free_port()}/postgres"))
    assert "pg_ctl" not in tools.wanted("sqlite:///x.sqlite3")


def test_the_suite_starts_a_throwaway_postgres_when_none_answers(tmp_path):
    """What `make test` does on a machine without a PostgreSQL server running: the same tests pass."""
    nothing_there = f"postgres://postgres@127.0.0.1:{free_port()}/postgres"
    env = {**os.environ, "DATABASE_URL": nothing_there}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-s", "-p", "no:cacheprovider", "tests/test_smoke.py",
         "tests/test_api.py::test_forum_names_authors_by_id_so_a_client_can_open_their_profile",
         "tests/test_metrics_wiring.py"],
        cwd=PROJECT_DIR, env=env, capture_output=True, text=True, timeout=300)
    out = done.stdout + done.stderr
    assert done.returncode == 0, out[-3000:]
    assert "started a throwaway one at postgres://postgres@127.0.0.1:" in out
    assert " passed" in out and "skipped" not in out.splitlines()[-1]
    leftovers = subprocess.run(["pgrep", "-f", "studio-test-postgres-"], capture_output=True, text=True).stdout
    assert leftovers == "", "the throwaway cluster is stopped at the end of the session"
