"""stack.supervise, the restart-on-exit wrapper every service of `make up` runs under: real processes, real
signals.  A service killed is started again (the game day's faults depend on it, and honcho alone would stop
the whole stack); a hold file keeps it down; one that cannot start is given up on so `make up` still fails
and names it; SIGTERM stops it, even when it is stopped with SIGSTOP."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.fixtures.servers import PROJECT_DIR


def wait_for(check, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := check():
            return value
        time.sleep(0.05)
    raise AssertionError(f"{what} not within {timeout}s")


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.fixture
def supervise(tmp_path):
    started: list[subprocess.Popen] = []

    def start(name: str, command: str) -> subprocess.Popen:
        proc = subprocess.Popen([sys.executable, "-m", "stack.supervise", name, "--", command], cwd=PROJECT_DIR,
                                env={**os.environ, "STACK_RUN_DIR": str(tmp_path)}, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True)
        started.append(proc)
        return proc

    yield start, tmp_path
    for proc in started:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def pid_of(run_dir: Path, name: str) -> int | None:
    try:
        return int((run_dir / "pids" / f"{name}.pid").read_text())
    except (OSError, ValueError):
        return None


def test_a_killed_service_is_started_again_and_a_held_one_only_once_released(supervise):
    start, run_dir = supervise
    proc = start("sleeper", "exec sleep 60")
    first = wait_for(lambda: pid_of(run_dir, "sleeper"), 10, "the pid file")
    time.sleep(5.5)  # past the quick-exit limit: this one started fine
    os.killpg(first, signal.SIGKILL)
    second = wait_for(lambda: (p := pid_of(run_dir, "sleeper")) != first and p, 10, "a new process")
    assert alive(second) and not alive(first)

    time.sleep(5.5)
    (run_dir / "hold").mkdir()
    (run_dir / "hold" / "sleeper").touch()
    os.killpg(second, signal.SIGKILL)
    time.sleep(2)
    assert pid_of(run_dir, "sleeper") == second and not alive(second), "held: not started again"
    (run_dir / "hold" / "sleeper").unlink()
    third = wait_for(lambda: (p := pid_of(run_dir, "sleeper")) != second and p, 10, "the start after the hold")
    assert alive(third)
    assert proc.poll() is None

    proc.send_signal(signal.SIGTERM)
    assert proc.wait(20) == 0
    assert not alive(third) and pid_of(run_dir, "sleeper") is None
    out = proc.stdout.read()
    assert out.count("starting again") == 2 and "held down" in out, out


def test_a_service_that_cannot_start_is_given_up_on_with_its_exit_code(supervise):
    start, run_dir = supervise
    proc = start("broken", "echo 'cannot bind' >&2; exit 3")
    assert proc.wait(30) == 3
    out = proc.stdout.read()
    assert out.count("cannot bind") == 3 and "gave up: exited within 5 s of starting 3 times in a row" in out
    assert pid_of(run_dir, "broken") is None


def test_sigterm_stops_a_service_that_is_stopped_with_sigstop(supervise):
    start, run_dir = supervise
    proc = start("frozen", "exec sleep 60")
    pid = wait_for(lambda: pid_of(run_dir, "frozen"), 10, "the pid file")
    os.killpg(pid, signal.SIGSTOP)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(20) == 0
    assert not alive(pid)
