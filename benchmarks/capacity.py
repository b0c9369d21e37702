"""Capacity at target, instrumented vs bare, interleaved in one session (`make bench-capacity`).

Against the running stack (`STACK_ENV=production SEED_SIZE=medium make up`, PostgreSQL): "instrumented" is the
stack's own app; "bare" is a second gunicorn started here with the same command line and environment (read
from the running master's /proc), on a free port, with STUDIO_INSTRUMENTATION=off (settings base.py: no
django-prometheus, none of our middleware, no perf window, no Sentry).  Both use the stack's database, cache
and Redis.  Step loads (LOAD_SHAPE=step, loadtests/_shapes.py, the arguments of docs/benchmarks.md section 5)
alternate between the two, A B B A ... for --rounds rounds; each is bounded by --step-max-users and a timeout.
Each run's capacity.json gives users and req/s at target; the table shows every run, the medians per mode and
the ratio instrumented / bare, with the load average at start and end and the machine.  The table is also
written as JSON: var/capacity/<UTC time>/capacity.json (each run's Locust reports beside it).

    python -m benchmarks.capacity --rounds 2 --step-users 25 --step-seconds 30 --step-window 20 --step-max-users 300
"""
from __future__ import annotations

import argparse
import json
import math
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
MODES = ("instrumented", "bare")
LOCUST_START_SECONDS = 60  # per run, beyond its steps: Locust starting, users finishing their task, reports


# --- Pure parts (tests/test_capacity_bench.py) --------------------------------------------------------------

def run_order(rounds: int) -> list[str]:
    """A B, then B A, ...: each mode runs first as often as the other (drift, warm caches)."""
    order: list[str] = []
    for r in range(rounds):
        order += list(MODES) if r % 2 == 0 else list(reversed(MODES))
    return order


def parse_capacity(data: dict) -> dict:
    """users and req/s at target from a run's capacity.json (loadtests/_shapes.py); none found counts as 0."""
    if not isinstance(data, dict) or "capacity_users" not in data or "steps" not in data:
        raise ValueError("not a step load's capacity.json (capacity_users, steps)")
    steps = data["steps"] or []
    return {"users": data["capacity_users"] or 0, "rps": float(data["capacity_rps"] or 0.0),
            "found": data["capacity_users"] is not None, "steps": len(steps),
            "peak_users": max((s["users"] for s in steps), default=0), "stopped_because": data.get("stopped_because")}


def summarize(runs: list[dict]) -> dict:
    """Medians per mode and the ratio instrumented / bare (None where bare has nothing to divide by)."""
    medians = {}
    for mode in MODES:
        mine = [r for r in runs if r["mode"] == mode and r.get("result")]
        medians[mode] = ({"runs": len(mine), "users": statistics.median(r["result"]["users"] for r in mine),
                          "rps": round(statistics.median(r["result"]["rps"] for r in mine), 2)} if mine else None)
    ratio = {}
    for key in ("users", "rps"):
        a, b = (medians[m][key] if medians[m] else None for m in MODES)
        ratio[key] = round(a / b, 3) if a is not None and b else None
    return {"medians": medians, "ratio": ratio}


def render_table(report: dict) -> str:
    args, machine = report["args"], report["machine"]
    lines = [f"Capacity at target, {report['stack_mode']} settings, {report.get('seed_size') or '?'} data: "
             f"step {args['step_users']} users / {args['step_seconds']:g} s (judged on the last "
             f"{args['step_window']:g} s), at most {args['step_max_users']} users, "
             f"think time x{report.get('think_scale', 1):g}",
             "", f"  {'run':<4}{'mode':<14}{'users':>7}{'req/s':>9}  stopped because"]
    for i, run in enumerate(report["runs"], 1):
        res = run.get("result")
        if res:
            users = f"{res['users']}" if res["found"] else "none"
            why = res["stopped_because"] or ""
            lines.append(f"  {i:<4}{run['mode']:<14}{users:>7}{res['rps']:>9.1f}  "
                         f"{why if len(why) <= 110 else why[:107] + '...'}")
        else:
            lines.append(f"  {i:<4}{run['mode']:<14}{'-':>7}{'-':>9}  failed: {run.get('error')}")
    lines.append("")
    for mode in MODES:
        m = report["summary"]["medians"][mode]
        lines.append(f"  median {mode:<13}" + (f"{m['users']:>6g}{m['rps']:>9.1f}  ({m['runs']} runs)" if m
                                                else "   no run finished"))
    ratio = report["summary"]["ratio"]
    fmt = lambda v: "n/a" if v is None else f"{v:.2f}"
    lines += [f"  ratio instrumented / bare: users {fmt(ratio['users'])}, req/s {fmt(ratio['rps'])}", "",
              f"load average at start {report['loadavg_start']}, at end {report['loadavg_end']}; "
              f"machine: {machine['nproc']} CPUs, {machine['model']}"]
    return "\n".join(lines)


# --- The stack and the machine ------------------------------------------------------------------------------

def machine() -> dict:
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"nproc": os.cpu_count(), "model": model}


def loadavg() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "unknown"


def stack_app(run_dir: Path) -> dict:
    """The running stack's app: its URL, settings mode, and its gunicorn master's command line, environment and
    directory (the bare server is started exactly so)."""
    state_file, pid_file = run_dir / "state.json", run_dir / "pids" / "app.pid"
    if not state_file.exists() or not pid_file.exists():
        raise SystemExit(f"no running stack in {run_dir}: STACK_ENV=production make up first")
    state = json.loads(state_file.read_text())
    app = next(s for s in state["services"] if s["name"] == "app")
    pid = int(pid_file.read_text())
    proc = Path(f"/proc/{pid}")
    try:
        argv = [a.decode() for a in (proc / "cmdline").read_bytes().split(b"\0") if a]
        environ = dict(e.decode().split("=", 1) for e in (proc / "environ").read_bytes().split(b"\0") if b"=" in e)
        cwd = os.readlink(proc / "cwd")
    except OSError as exc:
        raise SystemExit(f"the stack's app (pid {pid}) is not running: {exc}; make status") from None
    if "--bind" not in argv:
        raise SystemExit(f"pid {pid} is not the stack's gunicorn: {' '.join(argv)[:200]}")
    return {"url": app["health_url"].rsplit("/", 1)[0], "mode": state.get("mode", "development"),
            "seed_size": state.get("seed_size"),
            "argv": argv, "env": environ, "cwd": cwd, "pid": pid}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(url: str, proc: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the bare gunicorn exited with {proc.returncode} before {url} answered")
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                if resp.status == 200:
                    return
        except Exception:
            pass
        time.sleep(0.3)
    raise SystemExit(f"the bare gunicorn did not answer on {url} within {timeout:.0f} s")


def start_bare(app: dict, port: int, log: Path) -> subprocess.Popen:
    argv = list(app["argv"])
    argv[argv.index("--bind") + 1] = f"127.0.0.1:{port}"
    env = {k: v for k, v in app["env"].items() if k != "PROMETHEUS_MULTIPROC_DIR"}  # gunicorn.py would wipe it
    # The stack's mark stays: `make down` also stops this server should this script be killed.
    env["STUDIO_INSTRUMENTATION"] = "off"
    with log.open("ab") as fh:
        proc = subprocess.Popen(argv, cwd=app["cwd"], env=env, stdout=fh, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
    wait_ready(f"http://127.0.0.1:{port}/readyz", proc)
    return proc


def stop(proc: subprocess.Popen, timeout: float = 20) -> None:
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)
        except ProcessLookupError:
            pass


def locust_argv(host: str, reports: Path, args) -> list[str]:
    """`make loadtest LOAD_SHAPE=step LOCUST_ARGS="..."` (docs/benchmarks.md section 5), without make."""
    return [str(BIN / "locust"), "-f", "loadtests", "--headless", "-u", str(args.step_users), "-r",
            str(args.spawn_rate), "--host", host, "--reports-dir", str(reports), "--only-summary",
            "--step-users", str(args.step_users), "--step-seconds", f"{args.step_seconds:g}",
            "--step-window", f"{args.step_window:g}", "--step-max-users", str(args.step_max_users)]


def run_bound_seconds(args) -> float:
    return math.ceil(args.step_max_users / args.step_users) * args.step_seconds + LOCUST_START_SECONDS


def run_locust(mode: str, host: str, reports: Path, args, token_file: str | None) -> dict:
    reports.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "LOAD_SHAPE": "step"}
    if token_file and mode == "instrumented":  # the fidelity line; the bare app has no /metrics
        env["METRICS_TOKEN_FILE"] = token_file
    argv = locust_argv(host, reports, args)
    started = time.monotonic()
    with (reports / "locust.log").open("wb") as log:
        proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
        try:
            proc.wait(run_bound_seconds(args))
        except subprocess.TimeoutExpired:
            stop(proc)
    run = {"mode": mode, "host": host, "reports": str(reports), "seconds": round(time.monotonic() - started, 1),
           "locust_exit": proc.returncode, "loadavg_after": loadavg()}
    try:
        run["result"] = parse_capacity(json.loads((reports / "capacity.json").read_text()))
    except (OSError, ValueError) as exc:
        run["result"], run["error"] = None, f"no capacity.json ({exc}); see {reports / 'locust.log'}"
    return run


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.capacity", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    parser.add_argument("--rounds", type=int, default=2, help="rounds of (instrumented, bare); default 2: A B B A")
    parser.add_argument("--step-users", type=int, default=25)
    parser.add_argument("--step-seconds", type=float, default=30.0)
    parser.add_argument("--step-window", type=float, default=20.0)
    parser.add_argument("--step-max-users", type=int, default=300, help="the bound of every step load (300)")
    parser.add_argument("--spawn-rate", type=float, default=5.0, help="users started per second (make loadtest's 5)")
    parser.add_argument("--pause", type=float, default=10.0, help="seconds between runs (connections close)")
    parser.add_argument("--out", type=Path, default=None, help="default var/capacity/<UTC time>/")
    parser.add_argument("--allow-development", action="store_true",
                        help="measure a development-mode stack too (DEBUG on: not the figure to publish)")
    args = parser.parse_args(argv)
    if args.rounds < 1 or args.step_users < 1 or args.step_max_users < args.step_users:
        parser.error("--rounds >= 1 and --step-max-users >= --step-users >= 1")
    run_dir = Path(os.environ.get("STACK_RUN_DIR", ROOT / "var" / "stack")).resolve()
    app = stack_app(run_dir)
    if app["mode"] != "production" and not args.allow_development:
        raise SystemExit(f"the stack runs {app['mode']} settings; capacity is measured in production mode: "
                         "make down && STACK_ENV=production make up (or --allow-development to try)")
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out = (args.out or ROOT / "var" / "capacity" / stamp).resolve()
    out.mkdir(parents=True, exist_ok=True)
    port = free_port()
    bare_url = f"http://127.0.0.1:{port}"
    hosts = {"instrumented": app["url"], "bare": bare_url}
    order = run_order(args.rounds)
    bound = run_bound_seconds(args) + args.pause
    print(f"instrumented: the stack's app {app['url']} (pid {app['pid']}); bare: {bare_url} "
          f"(STUDIO_INSTRUMENTATION=off); {len(order)} step loads {' '.join('AB'[MODES.index(m)] for m in order)}, "
          f"each at most {run_bound_seconds(args):.0f} s (about {len(order) * bound / 60:.0f} min in all); "
          f"reports in {out}", flush=True)
    report = {"started_at": datetime.now(UTC).isoformat(timespec="seconds"), "stack_mode": app["mode"],
              "seed_size": app["seed_size"], "database": app["env"].get("DATABASE_URL", "").split("@")[-1],
              "gunicorn": " ".join(app["argv"][1:]), "bare_env": {"STUDIO_INSTRUMENTATION": "off"},
              "args": {k: v for k, v in vars(args).items() if k != "out"}, "machine": machine(),
              # Locust reads it from the environment: the personas' think time, which sets the users one core serves.
              "think_scale": float(os.environ.get("LOCUST_THINK_SCALE", "1")),
              "loadavg_start": loadavg(), "runs": []}
    bare = start_bare(app, port, out / "bare-gunicorn.log")
    try:
        for i, mode in enumerate(order, 1):
            if i > 1:
                time.sleep(args.pause)
            print(f"run {i}/{len(order)}: {mode} ({hosts[mode]}), load average {loadavg()}", flush=True)
            run = run_locust(mode, hosts[mode], out / f"{i:02d}-{mode}", args,
                             app["env"].get("METRICS_TOKEN_FILE"))
            report["runs"].append(run)
            res = run["result"]
            at = (f"{res['users']} users, {res['rps']:.1f} req/s" if res and res["found"] else "none") if res else ""
            print(f"  capacity at target: {at}; stopped {res['stopped_because']}" if res else f"  {run['error']}",
                  flush=True)
    finally:
        stop(bare)
    report["loadavg_end"] = loadavg()
    report["summary"] = summarize(report["runs"])
    table = render_table(report)
    report["table"] = table
    (out / "capacity.json").write_text(json.dumps(report, indent=2) + "\n")
    print(f"\n{table}\n\nJSON: {out / 'capacity.json'}")
    return 0 if all(r.get("result") for r in report["runs"]) else 1


if __name__ == "__main__":
    sys.exit(main())
