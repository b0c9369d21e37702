"""python -m stack up|down|status|logs"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from stack import health
from stack import services as svc

PIDFILE = svc.RUN_DIR / "honcho.pid"
LOGFILE = svc.RUN_DIR / "stack.log"
STATEFILE = svc.RUN_DIR / "state.json"
UP_TIMEOUT = float(os.environ.get("STACK_UP_TIMEOUT", "120"))
TARGETS_TIMEOUT = float(os.environ.get("STACK_TARGETS_TIMEOUT", "60"))


def docker_engine_answers() -> bool:
    if os.environ.get("STACK_NO_DOCKER"):
        return False
    try:
        return subprocess.run(["docker", "info"], capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie is not alive for our purposes.
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def our_processes() -> list[int]:
    """Every live process carrying this stack's mark in its environment."""
    mark = f"STUDIO_STACK={svc.RUN_DIR}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if mark in (entry / "environ").read_bytes().split(b"\0") and pid_alive(int(entry.name)):
                found.append(int(entry.name))
        except OSError:
            continue
    return found


def manage(cfg: svc.StackConfig, *args: str) -> None:
    subprocess.run([str(svc.BIN / "python"), "manage.py", *args], cwd=svc.APP_DIR, env=svc.child_env(cfg), check=True)


def up(args) -> int:
    if docker_engine_answers():
        if os.environ.get("STACK_ENV", "development") != "development":
            print("STACK_ENV applies to the local-process stack (STACK_NO_DOCKER=1); compose runs docker-compose.yml's")
        print("Docker engine found: docker compose up")
        return subprocess.call(["docker", "compose", "up", "-d", "--wait"], cwd=svc.ROOT)
    if PIDFILE.exists() and pid_alive(int(PIDFILE.read_text())):
        print("the stack is already running (make status); make down first")
        return 1
    svc.RUN_DIR.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(svc.RUN_DIR / "hold", ignore_errors=True)  # a game day interrupted mid-fault left one behind
    cfg = svc.load_config()
    services = svc.services(cfg)
    svc.write_configs(cfg, services)
    (svc.RUN_DIR / "Procfile").write_text(svc.render_procfile(services))
    envfile = svc.RUN_DIR / "env"
    envfile.touch(mode=0o600)
    envfile.chmod(0o600)  # production mode: it holds the generated SECRET_KEY
    envfile.write_text(svc.render_envfile(cfg))
    STATEFILE.write_text(json.dumps({"services": [s.__dict__ for s in services],
                                     "prometheus_url": cfg.prometheus_url, "mode": cfg.mode,
                                     "prometheus_urls": cfg.prometheus_urls, "alertmanager_urls": cfg.alertmanager_urls,
                                     "app_workers": cfg.workers, "seed_size": cfg.seed_size}, indent=2))
    if cfg.mode != "development":
        print(f"STACK_ENV={cfg.mode}: config.settings.{cfg.mode}, secrets in {svc.SECRETS_DIR}")
    log = LOGFILE.open("ab")
    cmd = [str(svc.BIN / "honcho"), "--no-colour", "start", "-f", str(svc.RUN_DIR / "Procfile"),
           "-e", str(svc.RUN_DIR / "env"), "-d", str(svc.ROOT)]
    if args.foreground:
        # Ctrl-C (or a SIGTERM) stops everything, even when started where SIGINT is ignored (a background job).
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, signal.default_int_handler)
        proc = subprocess.Popen(cmd, env=svc.child_env(cfg), start_new_session=True)
    else:
        proc = subprocess.Popen(cmd, env=svc.child_env(cfg), stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
    PIDFILE.write_text(str(proc.pid))
    alive = lambda: proc.poll() is None
    try:
        # The database and Redis first: migrating and seeding need them.
        for name, url in (("postgres", cfg.database_url), ("redis", cfg.redis_url)):
            needed = [s for s in services if s.name == name and s.started]
            if needed and health.wait_until_ready(needed, time.monotonic() + UP_TIMEOUT, alive):
                raise RuntimeError(f"{name} did not answer on {url}")
        print(f"migrating and seeding ({cfg.seed_size}) {cfg.database_url.split('@')[-1]}")
        manage(cfg, "migrate", "--noinput", "-v", "0")
        manage(cfg, "seed_data", "--size", cfg.seed_size)
        deadline = time.monotonic() + UP_TIMEOUT
        health.wait_until_ready(services, deadline, alive)
        if any(s.name == "prometheus" and s.started for s in services):
            # Returns once Prometheus has scraped every target of ours, or names the ones it could not.
            health.wait_until_scraped(services, cfg.prometheus_url, time.monotonic() + TARGETS_TIMEOUT, alive)
    except (Exception, KeyboardInterrupt) as exc:
        print(f"stack did not come up: {exc}; stopping it. Logs: {LOGFILE}")
        stop()
        return 1
    rows = health.check(services, cfg.prometheus_url, running=alive())
    failed = [r.name for r in rows if not r.ok]
    print(f"\nPython Learning Studio {'is not healthy' if failed else 'is up'} ({len(rows)} services, "
          f"{cfg.mode} settings):\n"
          f"{health.render(rows)}\n  {'logs':<16} {LOGFILE}")
    if not alive():
        print(f"\nthe stack stopped: {first_exit(LOGFILE)}. `make logs` shows why.")
        stop()
        return 1
    if failed:
        print(f"\nnot healthy: {', '.join(failed)}. `make logs` shows why; `make status` checks again; "
              "`make down` stops the rest.")
        if not args.foreground:
            return 1
    if args.foreground:
        try:
            return proc.wait()
        except KeyboardInterrupt:
            return stop()
    print("make status | make logs | make down")
    return 0


def first_exit(log: Path) -> str:
    """Which process exited first (honcho then stops all the others), with its last error line."""
    try:
        lines = log.read_text(errors="replace").splitlines()
    except OSError:
        return "honcho exited"
    for i, line in enumerate(lines):
        stopped = re.search(r"system\s+\|\s+(\S+) stopped \(rc=(-?\d+)\)", line)
        if stopped:
            name = stopped.group(1)
            errors = [ln.split("|", 1)[1].strip() for ln in lines[:i]
                      if ln.split("|", 1)[0].split()[-1:] == [name] and "error" in ln.lower()]
            return f"{name} stopped (rc={stopped.group(2)})" + (f": {errors[-1][:300]}" if errors else "")
    return "honcho exited"


def stop(timeout: float = 20.0) -> int:
    if PIDFILE.exists():
        pid = int(PIDFILE.read_text())
        try:
            os.killpg(pid, signal.SIGTERM)  # honcho passes it on to every service
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + timeout
    while our_processes() and time.monotonic() < deadline:
        time.sleep(0.2)
    leftovers = our_processes()
    for pid in leftovers:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    PIDFILE.unlink(missing_ok=True)
    print("stopped" + (f" (killed {len(leftovers)} stragglers)" if leftovers else ""))
    return 0


def down(args) -> int:
    if docker_engine_answers():
        return subprocess.call(["docker", "compose", "down"], cwd=svc.ROOT)
    return stop()


def status(args) -> int:
    if docker_engine_answers():
        return subprocess.call(["docker", "compose", "ps"], cwd=svc.ROOT)
    if not STATEFILE.exists() or not PIDFILE.exists():
        print("the stack is not running (make up)")
        return 1
    state = json.loads(STATEFILE.read_text())
    running = pid_alive(int(PIDFILE.read_text()))
    services = [svc.Service(**s) for s in state["services"]]
    rows = health.check(services, state["prometheus_url"], running=running)
    print(f"honcho {'running' if running else 'stopped'} (pid {PIDFILE.read_text()}), "
          f"{len(our_processes())} processes, {state.get('mode', 'development')} settings\n{health.render(rows)}")
    if running and len(state.get("alertmanager_urls", [])) > 1:  # STACK_HA
        ha = health.ha_rows(state["prometheus_urls"], state["alertmanager_urls"])
        print(f"high availability (STACK_HA=1):\n{health.render(ha)}")
        rows += ha
    failed = [r.name for r in rows if not r.ok]
    if failed:
        print(f"not healthy: {', '.join(failed)}")
    return 1 if failed or not running else 0


def logs(args) -> int:
    if docker_engine_answers():
        return subprocess.call(["docker", "compose", "logs", "-f"], cwd=svc.ROOT)
    if not LOGFILE.exists():
        print("no logs yet (make up)")
        return 1
    try:
        return subprocess.call(["tail", "-n", "100", "-F", str(LOGFILE)])
    except KeyboardInterrupt:
        return 0


def pages(args) -> int:
    """List the pages the local sinks received (email, Slack, PagerDuty, dead-man's switch)."""
    from stack.sinks import read_store

    store = svc.RUN_DIR / "pages.jsonl"
    rows = read_store(store)
    if not rows:
        print("no pages received yet" + ("" if store.exists() else " (is the stack up? make up)"))
        return 0
    heartbeats = [p for p in rows if p["receiver"] == "deadmansswitch"]
    for page in rows if args.all else [p for p in rows if p["receiver"] != "deadmansswitch"]:
        when = time.strftime("%H:%M:%S", time.localtime(page["received_at"]))
        print(f"{when}  {page['receiver']:<10} {summarize(page)}")
    if heartbeats and not args.all:
        print(f"(and {len(heartbeats)} Watchdog heartbeats to the dead-man's switch; --all shows them)")
    print(f"{len(rows)} pages; all of them: {store}")
    return 0


def summarize(page: dict) -> str:
    if page["receiver"] == "email":
        return f"to {', '.join(page['to'])}: {page['subject']}"
    body = page.get("body")
    if isinstance(body, dict):
        if "text" in body or "attachments" in body:  # Slack
            return (body.get("text") or (body.get("attachments") or [{}])[0].get("title", ""))[:120]
        if "payload" in body:  # PagerDuty Events v2
            return f"{body.get('event_action', '')} {body['payload'].get('summary', '')}"[:120]
        if "alerts" in body:  # Alertmanager webhook
            names = sorted({a["labels"].get("alertname", "?") for a in body["alerts"]})
            return f"{body.get('status', '')} {', '.join(names)}"
    return str(body)[:120]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m stack", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p_up = sub.add_parser("up", help="start the stack and wait until it is healthy")
    p_up.add_argument("--foreground", action="store_true", help="stay attached; Ctrl-C stops everything")
    sub.add_parser("down", help="stop everything `up` started")
    sub.add_parser("status", help="show each service")
    sub.add_parser("logs", help="follow the logs")
    p_pages = sub.add_parser("pages", help="list the pages the local receivers got")
    p_pages.add_argument("--all", action="store_true", help="include the Watchdog heartbeats")
    p_game = sub.add_parser("game-day", help="faults the stack must detect, measured end to end under load")
    p_game.add_argument("--list", action="store_true", help="list the faults")
    p_game.add_argument("--only", action="extend", nargs="+", metavar="NAME", help="only these faults, in this order")
    p_game.add_argument("--soak", type=float, metavar="MINUTES",
                        help="load alone (after the --only faults): every page but the heartbeat fails")
    p_game.add_argument("--out", metavar="DIR", help="where the report goes (var/game-day/<time>/)")
    p_game.add_argument("--users", type=int, default=20, help="Locust users (default 20)")
    p_game.add_argument("--margin", type=float, default=60.0, help="seconds allowed beyond window + for: (60)")
    p_game.add_argument("--settle", type=float, default=20.0, help="seconds a fault is observed once recovered (20)")
    args = parser.parse_args(argv)
    if args.command == "game-day":
        from stack.gameday import run as game_day

        return game_day.main(args)
    return {"up": up, "down": down, "status": status, "logs": logs, "pages": pages}[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
