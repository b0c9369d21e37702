"""Issue 15, finding 3: what a password-guessing attack on /api/v1/auth/token/ does to the course list, with the
sign-in throttle off and on.  Figures, not a test (docs/security.md has a run's).

    .venv/bin/python -m benchmarks.signin_attack                 # both runs, 30 s per phase (from the project root)
    .venv/bin/python -m benchmarks.signin_attack --seconds 30 --attackers 8 --readers 4
    make bench-signin BENCH_ARGS="--seconds 30"

Each run starts its own gunicorn on 127.0.0.1 under the production settings with config/gunicorn.py (gthread
workers) and production's password hasher (PBKDF2, ~0.5 s of CPU per sign-in), against a database migrated and
seeded (small) once: DATABASE_URL, or a SQLite file.  Redis at BENCH_REDIS_URL (default
redis://127.0.0.1:6379/13 when it answers) holds the throttle's counts, under a key prefix of the run's own.

Two runs: "off" (SIGNIN_THROTTLE_ENABLED=0: the app as finding 3 found it) and "on" (the default limits unless
--username-rate / --address-rate say otherwise).  Two phases per run:

* quiet  -- readers only: each GETs /api/v1/courses/ and waits --think seconds, over and over;
* attack -- the same readers, and --attackers threads posting wrong passwords for one seeded user as fast as
  they are answered (--usernames N spreads them over N users: a spray from one address).

Printed per run and phase: the course list's P50/P95/max and request count, the sign-in attempts per second and
their statuses, and the studio_security_events_total{event="SigninThrottled"} the app counted; with the throttle
on, also the course list from the first 429 on ("held"): the attempts up to the limit are still real password
checks, whose cost lands in the attack phase's first seconds.
"""
from __future__ import annotations

import argparse
import collections
import http.client
import json
import os
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
APP_DIR = ROOT / "app"
COURSE_LIST = "/api/v1/courses/"
TOKEN_URL = "/api/v1/auth/token/"
SEEDED_USER = "student{:05d}"  # seed_data's usernames (core/management/commands/seed_data.py)


def redis_url() -> str | None:
    url = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/13")
    if not url:
        return None
    host_port = url.split("//", 1)[1].split("/", 1)[0]
    host, _, port = host_port.rpartition(":")
    try:
        with socket.create_connection((host or "127.0.0.1", int(port or 6379)), timeout=0.5):
            return url
    except OSError:
        return None


def prepare_database(tmp: Path) -> str:
    url = os.environ.get("DATABASE_URL") or f"sqlite:///{tmp / 'bench.sqlite3'}"
    env = {**os.environ, "DATABASE_URL": url, "REDIS_URL": "", "CACHE_URL": "", "SENTRY_DSN": "",
           "DJANGO_SETTINGS_MODULE": "config.settings.development", "ENVIRONMENT": "development", "SILK_ENABLED": "0"}
    for args in (["migrate", "--noinput"], ["seed_data", "--size", "small"]):
        subprocess.run([sys.executable, "manage.py", *args], cwd=APP_DIR, env=env, check=True, stdout=subprocess.DEVNULL)
    return url


def server_env(database_url: str, redis: str | None, tmp: Path, run: str, args) -> dict:
    metrics_dir = tmp / f"prom-{run}"
    metrics_dir.mkdir(exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SENTRY_", "DJANGO_", "SIGNIN_THROTTLE_"))}
    env.update({
        "DJANGO_SETTINGS_MODULE": "config.settings.production", "ENVIRONMENT": "production",
        "SECRET_KEY": secrets.token_urlsafe(50), "ALLOWED_HOSTS": "127.0.0.1", "SECURE_SSL_REDIRECT": "0",
        "DATABASE_URL": database_url, "REDIS_URL": redis or "", "CACHE_URL": redis or "",
        "CELERY_BROKER_URL": redis or "", "CACHE_KEY_PREFIX": f"bench-signin-{run}-{secrets.token_hex(4)}",
        "METRICS_TOKEN": "bench-signin-metrics", "LOG_FILE": str(tmp / f"{run}.log"), "SENTRY_DSN": "",
        "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir), "GUNICORN_WORKERS": str(args.workers),
        "SIGNIN_THROTTLE_ENABLED": "1" if run == "on" else "0",
    })
    if args.username_rate:
        env["SIGNIN_THROTTLE_USERNAME_RATE"] = args.username_rate
    if args.address_rate:
        env["SIGNIN_THROTTLE_ADDRESS_RATE"] = args.address_rate
    return env


def start_gunicorn(env: dict):
    from tests.fixtures.servers import free_port, wait_for_http

    port = free_port()
    log = tempfile.NamedTemporaryFile(prefix="bench-signin-gunicorn-", suffix=".log", delete=False)  # noqa: SIM115
    proc = subprocess.Popen([str(ROOT / ".venv" / "bin" / "gunicorn"), "-c", str(APP_DIR / "config" / "gunicorn.py"),
                             "--bind", f"127.0.0.1:{port}", "config.wsgi:application"],
                            cwd=APP_DIR, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    wait_for_http(f"http://127.0.0.1:{port}/healthz", timeout=60, proc=proc)
    return proc, port


def request(conn: http.client.HTTPConnection, method: str, path: str, body: bytes | None = None,
            headers: dict | None = None) -> int:
    conn.request(method, path, body=body, headers=headers or {})
    resp = conn.getresponse()
    resp.read()
    return resp.status


def throttled_events(port: int) -> float:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", "/metrics", headers={"Authorization": "Bearer bench-signin-metrics"})
        text = conn.getresponse().read().decode()
    finally:
        conn.close()
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith('studio_security_events_total{event="SigninThrottled"'))


def phase(port: int, args, attack: bool) -> dict:
    deadline = time.perf_counter() + args.seconds
    latencies: list[tuple[float, float]] = []  # (started, seconds)
    statuses: collections.Counter = collections.Counter()
    reader_errors = [0]
    first_refusal = [float("inf")]  # when the first 429 came back: from then on the throttle holds
    lock = threading.Lock()

    def reader():
        mine, errors = [], 0
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        while time.perf_counter() < deadline:
            start = time.perf_counter()
            try:
                ok = request(conn, "GET", COURSE_LIST) == 200
            except (OSError, http.client.HTTPException):
                ok = False
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            mine.append((start, time.perf_counter() - start))
            errors += not ok
            time.sleep(args.think)
        conn.close()
        with lock:
            latencies.extend(mine)
            reader_errors[0] += errors

    def attacker(i: int):
        mine: collections.Counter = collections.Counter()
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        k = 0
        while time.perf_counter() < deadline:
            username = SEEDED_USER.format(1 + (i + k) % args.usernames)
            body = json.dumps({"username": username, "password": f"guess-{i}-{k}"}).encode()
            k += 1
            try:
                status = request(conn, "POST", TOKEN_URL, body, {"Content-Type": "application/json"})
                mine[status] += 1
                if status == 429 and time.perf_counter() < first_refusal[0]:
                    with lock:
                        first_refusal[0] = min(first_refusal[0], time.perf_counter())
            except (OSError, http.client.HTTPException):
                mine["error"] += 1
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        conn.close()
        with lock:
            statuses.update(mine)

    threads = [threading.Thread(target=reader) for _ in range(args.readers)]
    if attack:
        threads += [threading.Thread(target=attacker, args=(i,)) for i in range(args.attackers)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    held = [seconds for start, seconds in latencies if start >= first_refusal[0]]
    return {**percentiles([seconds for _, seconds in latencies]), "held": percentiles(held) if held else None,
            "reader_errors": reader_errors[0], "attempts": sum(statuses.values()),
            "attempts_per_s": sum(statuses.values()) / elapsed, "statuses": dict(sorted(statuses.items(), key=str))}


def percentiles(seconds: list[float]) -> dict:
    ordered = sorted(seconds)
    q = statistics.quantiles(ordered, n=100) if len(ordered) > 1 else [ordered[0] if ordered else 0.0] * 99
    return {"n": len(ordered), "p50": q[49] * 1e3, "p95": q[94] * 1e3, "max": (ordered[-1] if ordered else 0) * 1e3}


def run(name: str, database_url: str, redis: str | None, tmp: Path, args) -> list[tuple[str, dict, float]]:
    from tests.fixtures.servers import stop_process

    proc, port = start_gunicorn(server_env(database_url, redis, tmp, name, args))
    rows = []
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        for _ in range(20):  # warm-up: every worker has imported and cached the course list
            request(conn, "GET", COURSE_LIST)
        conn.close()
        for attack in (False, True):
            before = throttled_events(port)
            result = phase(port, args, attack)
            rows.append(("attack" if attack else "quiet", result, throttled_events(port) - before))
    finally:
        stop_process(proc)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=30.0, help="length of each phase (default 30)")
    parser.add_argument("--attackers", type=int, default=8, help="threads posting wrong passwords (default 8)")
    parser.add_argument("--readers", type=int, default=4, help="threads reading the course list (default 4)")
    parser.add_argument("--think", type=float, default=0.1, help="a reader's pause between requests, s (default 0.1)")
    parser.add_argument("--usernames", type=int, default=1, help="seeded users the attack spreads over (default 1)")
    parser.add_argument("--workers", type=int, default=3, help="gunicorn workers (default 3, as make up)")
    parser.add_argument("--username-rate", help="SIGNIN_THROTTLE_USERNAME_RATE for the 'on' run (default: settings)")
    parser.add_argument("--address-rate", help="SIGNIN_THROTTLE_ADDRESS_RATE for the 'on' run (default: settings)")
    parser.add_argument("--only", choices=("off", "on"), help="one run only")
    args = parser.parse_args(argv)

    redis = redis_url()
    with tempfile.TemporaryDirectory(prefix="bench-signin-") as name:
        tmp = Path(name)
        database_url = prepare_database(tmp)
        print(f"gunicorn: {args.workers} gthread workers, production settings (PBKDF2); database "
              f"{database_url.split('://')[0]}; throttle counts in "
              f"{'Redis ' + redis if redis else 'local memory per worker (no Redis answered)'}")
        print(f"{args.readers} readers (GET {COURSE_LIST}, {args.think:g} s pause), {args.attackers} attackers "
              f"(wrong passwords for {args.usernames} user(s)), {args.seconds:g} s per phase\n")
        print(f"{'throttle':<9}{'phase':<8}{'list n':>7}{'P50 ms':>9}{'P95 ms':>9}{'max ms':>9}"
              f"{'sign-ins/s':>11}  statuses (throttled events)")
        for name_ in ("off", "on"):
            if args.only and args.only != name_:
                continue
            for phase_name, r, events in run(name_, database_url, redis, tmp, args):
                statuses = ", ".join(f"{k}: {v}" for k, v in r["statuses"].items()) or "-"
                errors = f"; course list failures: {r['reader_errors']}" if r["reader_errors"] else ""
                print(f"{name_:<9}{phase_name:<8}{r['n']:>7}{r['p50']:>9.1f}{r['p95']:>9.1f}{r['max']:>9.1f}"
                      f"{r['attempts_per_s']:>11.1f}  {statuses} ({events:.0f}){errors}", flush=True)
                held = r["held"]
                if held and phase_name == "attack":
                    print(f"{'':<9}{'held':<8}{held['n']:>7}{held['p50']:>9.1f}{held['p95']:>9.1f}{held['max']:>9.1f}"
                          "             (course list from the first 429 on)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
