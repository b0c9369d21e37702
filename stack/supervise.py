"""Run one service of the local stack and start it again when it exits, as systemd or Kubernetes would.

    python -m stack.supervise NAME -- 'shell command'

honcho stops the whole stack when any process it runs exits; a crashed or restarted service must not take
the stack down, so every service runs under this.  The command's process group id goes to
RUN_DIR/pids/NAME.pid (what `make game-day` signals).  While RUN_DIR/hold/NAME exists, an exited service is
not started again (a fault that keeps a dependency down for a while); the supervisor starts it as soon as
the file is removed.  A service that exits at once three times in a row is given up on (the supervisor exits
with its code, and honcho stops the stack, as before supervision).  SIGTERM or SIGINT to the supervisor
stops the service and the supervisor.
"""
from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

RUN_DIR = Path(os.environ.get("STACK_RUN_DIR", Path(__file__).resolve().parent.parent / "var" / "stack")).resolve()
STOP_TIMEOUT = 15.0
QUICK_EXIT = 5.0  # seconds: a service that exits sooner than this after starting did not start
GIVE_UP_AFTER = 3


def pid_file(name: str) -> Path:
    return RUN_DIR / "pids" / f"{name}.pid"


def hold_file(name: str) -> Path:
    return RUN_DIR / "hold" / name


def say(name: str, text: str) -> None:
    print(f"[supervise {name}] {text}", flush=True)


class Supervisor:
    def __init__(self, name: str, command: str):
        self.name, self.command = name, command
        self.child: subprocess.Popen | None = None
        self.stopping = False

    def stop(self, *_args) -> None:
        self.stopping = True
        if self.child is not None and self.child.poll() is None:
            try:
                os.killpg(self.child.pid, signal.SIGTERM)
                os.killpg(self.child.pid, signal.SIGCONT)  # a stopped (SIGSTOP) service must wake to exit
            except ProcessLookupError:
                pass

    def run(self) -> int:
        signal.signal(signal.SIGTERM, self.stop)
        signal.signal(signal.SIGINT, self.stop)
        pid_file(self.name).parent.mkdir(parents=True, exist_ok=True)
        quick_exits = 0
        while not self.stopping:
            started = time.monotonic()
            self.child = subprocess.Popen(["/bin/sh", "-c", self.command], start_new_session=True)
            pid_file(self.name).write_text(str(self.child.pid))
            rc = self.child.wait()
            if self.stopping:
                break
            say(self.name, f"exited with {rc}")
            held = False
            while hold_file(self.name).exists() and not self.stopping:
                if not held:
                    say(self.name, "held down (a fault); waiting to start it again")
                    held = True
                time.sleep(0.2)
            quick_exits = quick_exits + 1 if time.monotonic() - started < QUICK_EXIT and not held else 0
            if quick_exits >= GIVE_UP_AFTER:
                # It cannot start (a port taken, a bad config): exit with its code, so that honcho stops the
                # stack and `make up` names the service, instead of restarting it forever.
                say(self.name, f"gave up: exited within {QUICK_EXIT:.0f} s of starting {quick_exits} times in a row")
                pid_file(self.name).unlink(missing_ok=True)
                return rc or 1
            time.sleep(0.5 * 2**quick_exits if quick_exits else 0.2)
            if not self.stopping:
                say(self.name, "starting again")
        deadline = time.monotonic() + STOP_TIMEOUT
        while self.child is not None and self.child.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        if self.child is not None and self.child.poll() is None:
            try:
                os.killpg(self.child.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        pid_file(self.name).unlink(missing_ok=True)
        return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m stack.supervise", description=__doc__.split("\n\n")[0])
    parser.add_argument("name")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- then the shell command")
    args = parser.parse_args(argv)
    command = " ".join(args.command[1:] if args.command[:1] == ["--"] else args.command)
    if not command:
        parser.error("a command is needed after --")
    return Supervisor(args.name, command).run()


if __name__ == "__main__":
    sys.exit(main())
