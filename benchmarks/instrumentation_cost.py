"""Instrumentation cost (docs/benchmarks.md, 4b-4d): figures, not tests.

    .venv/bin/python benchmarks/instrumentation_cost.py                 # in-process CPU, all variants
    .venv/bin/python benchmarks/instrumentation_cost.py --http          # + gunicorn req/s, P50/P95
    .venv/bin/python benchmarks/instrumentation_cost.py --scrape        # + /metrics with 4 workers
    .venv/bin/python benchmarks/instrumentation_cost.py --profile ours  # cProfile of one variant

In-process: one long-lived process per variant (settings are process-global; benchmarks/bench_settings.py
builds them from BENCH_VARIANT), each calling the WSGI application directly with a minimal environ.
Rounds are interleaved (A, B, C, A, B, C, ...) and each round reports the process CPU time
(time.process_time: every thread, Sentry's transport included) per request; the table shows medians.
Sentry points at a local server accepting envelopes (tests/fixtures/sentry_server.py).
Database: a SQLite file migrated and seeded (small) once per run, or DATABASE_URL; cache: Redis at
BENCH_REDIS_URL (default redis://127.0.0.1:6379/13 when it answers), else local memory.
"""
from __future__ import annotations

import argparse
import io
import json
import os
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
VARIANTS = ("bare", "ours", "peer")
EXTRA_VARIANTS = ("ours-nowindow", "ours-nosentry", "ours-noprofiles", "ours-sentry-notrace")
ONE_QUERY = "/_drill/perf/?queries=1"


# --- The worker: one variant, commands on stdin ------------------------------------------------

def _environ(path: str) -> dict:
    path_info, _, query = path.partition("?")
    return {"REQUEST_METHOD": "GET", "PATH_INFO": path_info, "QUERY_STRING": query, "SERVER_NAME": "127.0.0.1",
            "SERVER_PORT": "80", "HTTP_HOST": "127.0.0.1", "REMOTE_ADDR": "127.0.0.1", "SERVER_PROTOCOL": "HTTP/1.1",
            "wsgi.version": (1, 0), "wsgi.url_scheme": "http", "wsgi.input": io.BytesIO(b""), "wsgi.errors": sys.stderr,
            "wsgi.multithread": False, "wsgi.multiprocess": True, "wsgi.run_once": False}


def _setup_django():
    os.environ["DJANGO_SETTINGS_MODULE"] = "benchmarks.bench_settings"
    from django.core.wsgi import get_wsgi_application

    return get_wsgi_application()


def _call(app, path: str) -> int:
    status = []
    body = app(_environ(path), lambda s, h, exc_info=None: status.append(s))
    for _ in body:
        pass
    if hasattr(body, "close"):
        body.close()
    return int(status[0][:3])


def _thread_cpu() -> dict[str, float]:
    """CPU seconds of every live Python thread, by thread group (threads of one name add up)."""
    out: dict[str, float] = {}
    for thread in threading.enumerate():
        try:
            seconds = time.clock_gettime(time.pthread_getcpuclockid(thread.ident))
        except (OSError, TypeError):  # ended meanwhile
            continue
        group = thread_group(thread.name)
        out[group] = out.get(group, 0.0) + seconds
    return out


def thread_group(name: str) -> str:
    if name == "MainThread":
        return "main"
    if name == "sentry-sdk.BackgroundWorker":
        return "sentry transport"
    if name.startswith("sentry"):  # session flusher, profiler's sampler, monitor, batchers
        return "sentry other"
    if name == "studio-perf-window":
        return "window flush"
    return "other"


def worker() -> None:
    app = _setup_django()
    for line in sys.stdin:
        n, path = line.split(None, 1)
        n, path = int(n), path.strip()
        bad = 0
        threads0 = _thread_cpu()
        cpu0, wall0 = time.process_time(), time.perf_counter()
        for _ in range(n):
            if _call(app, path) != 200:
                bad += 1
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
        threads = {k: (v - threads0.get(k, 0.0)) * 1e3 / n for k, v in _thread_cpu().items()}
        print(json.dumps({"cpu_ms": cpu * 1e3 / n, "wall_ms": wall * 1e3 / n, "bad": bad, "threads": threads}),
              flush=True)


def profile(variant: str, path: str, n: int, sort: str) -> None:
    import cProfile
    import pstats

    app = _setup_django()
    for _ in range(300):
        _call(app, path)
    prof = cProfile.Profile()
    prof.enable()
    for _ in range(n):
        _call(app, path)
    prof.disable()
    if os.environ.get("BENCH_PROFILE_OUT"):  # for pstats / snakeviz: BENCH_PROFILE_OUT=/tmp/ours.pstats
        prof.dump_stats(os.environ["BENCH_PROFILE_OUT"])
    stats = pstats.Stats(prof)
    stats.sort_stats(sort).print_stats(int(os.environ.get("BENCH_PROFILE_LINES", "45")))
    by_package: dict[str, float] = {}
    for (filename, _, _), (_, _, tottime, _, _) in stats.stats.items():
        if "site-packages/" in filename:
            package = filename.split("site-packages/")[1].split("/")[0]
        elif str(APP_DIR) in filename:
            package = "app/" + filename.split(str(APP_DIR) + "/")[1].split("/")[0]
        else:
            package = "stdlib/builtins"
        by_package[package] = by_package.get(package, 0.0) + tottime
    total = sum(by_package.values())
    print(f"Own time by package, microseconds per request under cProfile ({n} requests of {path}, {variant}):")
    for package, seconds in sorted(by_package.items(), key=lambda kv: -kv[1])[:12]:
        print(f"  {package:<28}{seconds * 1e6 / n:8.1f}  {seconds * 100 / total:5.1f} %")
    if os.environ.get("BENCH_PROFILE_CALLERS"):
        stats.print_callers(*os.environ["BENCH_PROFILE_CALLERS"].split(","))


def count(variant: str, paths, n: int) -> None:
    """What one request does, per path: metric value writes (each a lock and an mmap write in multiprocess
    mode) by metric, Redis round trips by thread, Sentry transactions, spans, breadcrumbs, sessions, events.
    Counted by wrapping the libraries' own methods in this process only (the app is not changed)."""
    import collections

    app = _setup_django()
    import redis.connection
    import sentry_sdk
    from prometheus_client import values
    from sentry_sdk import scope as sentry_scope
    from sentry_sdk import tracing

    tally: collections.Counter = collections.Counter()
    main = threading.main_thread()

    def counting(cls, name, key):
        original = getattr(cls, name)

        def wrapper(self, *args, **kwargs):
            tally[key(self, args) if callable(key) else key] += 1
            return original(self, *args, **kwargs)
        setattr(cls, name, wrapper)

    for method in ("inc", "set"):
        counting(values.ValueClass, method,
                 lambda self, args: ("metric writes", getattr(self, "_params", ("", "?"))[1]))
    counting(redis.connection.AbstractConnection, "send_packed_command",
             lambda self, args: ("redis round trips",
                                 "request thread" if threading.current_thread() is main else "other threads"))
    counting(tracing.Transaction, "finish", lambda self, args: ("sentry", f"transactions (sampled={self.sampled})"))
    counting(tracing.Span, "__init__", ("sentry", "spans and transactions made"))
    counting(sentry_scope.Scope, "add_breadcrumb", ("sentry", "breadcrumbs added"))
    counting(sentry_scope.Scope, "start_session", ("sentry", "sessions started"))
    counting(sentry_scope.Scope, "fork", ("sentry", "scope forks"))
    client = sentry_sdk.get_client()
    if client.is_active():
        counting(type(client), "capture_event", ("sentry", "events and transactions captured"))
    for path in paths:
        for _ in range(300):
            _call(app, path)
        sentry_sdk.flush(timeout=5)
        tally.clear()
        wall0 = time.perf_counter()
        for _ in range(n):
            _call(app, path)
        wall = time.perf_counter() - wall0
        print(f"\n{variant} {path}: per request ({n} requests, {wall * 1e3 / n:.2f} ms wall each)")
        by_kind: dict[str, list] = {}
        for (kind, what), k in sorted(tally.items()):
            by_kind.setdefault(kind, []).append((what, k))
        for kind, rows in by_kind.items():
            print(f"  {kind}: {sum(k for _, k in rows) / n:.2f}")
            for what, k in sorted(rows, key=lambda r: -r[1]):
                print(f"      {k / n:7.3f}  {what}")


# --- The parent ------------------------------------------------------------------------------

def _redis_url() -> str | None:
    url = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/13")
    if not url:
        return None
    try:
        with socket.create_connection(("127.0.0.1", int(url.split(":")[2].split("/")[0])), timeout=0.5):
            return url
    except OSError:
        return None


def prepare_database(tmp: Path) -> str:
    url = os.environ.get("DATABASE_URL") or f"sqlite:///{tmp / 'bench.sqlite3'}"
    env = {**os.environ, "DATABASE_URL": url, "REDIS_URL": "", "CACHE_URL": "", "SENTRY_DSN": ""}
    for args in (["migrate", "--noinput"], ["seed_data", "--size", "small"]):
        subprocess.run([sys.executable, "manage.py", *args], cwd=APP_DIR, env=env, check=True,
                       stdout=subprocess.DEVNULL)
    return url


def variant_env(variant: str, common: dict, tmp: Path) -> dict:
    from tests.fixtures.sentry_server import child_env

    metrics_dir = tmp / f"prom-{variant}"
    metrics_dir.mkdir(exist_ok=True)
    for f in metrics_dir.iterdir():
        f.unlink()
    return child_env(**common, BENCH_VARIANT=variant, DJANGO_SETTINGS_MODULE="benchmarks.bench_settings",
                     PROMETHEUS_MULTIPROC_DIR=str(metrics_dir))


def first_slug(db_url: str) -> str:
    if db_url.startswith("sqlite:///"):
        import sqlite3

        with sqlite3.connect(db_url[len("sqlite:///"):]) as conn:
            return conn.execute("SELECT slug FROM courses_course ORDER BY id LIMIT 1").fetchone()[0]
    return "course-00001"


def in_process(variants, paths, common, tmp, rounds, n) -> dict:
    argv = [sys.executable, "-m", "benchmarks.instrumentation_cost", "--worker"]
    procs = {v: subprocess.Popen(argv, env=variant_env(v, common, tmp), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                 text=True, cwd=APP_DIR)
             for v in variants}

    def ask(v, count, path):
        procs[v].stdin.write(f"{count} {path}\n")
        procs[v].stdin.flush()
        return json.loads(procs[v].stdout.readline())

    results = {(v, p): [] for v in variants for p in paths}
    threads = {(v, p): [] for v in variants for p in paths}
    try:
        for v in variants:  # warm-up: imports, connections, caches, first Sentry envelopes
            for p in paths:
                out = ask(v, 300, p)
                if out["bad"]:
                    raise SystemExit(f"{v} {p}: {out['bad']} responses were not 200")
        for r in range(rounds):
            for p in paths:
                order = variants if r % 2 == 0 else variants[::-1]
                for v in order:
                    out = ask(v, n, p)
                    results[v, p].append(out["cpu_ms"])
                    threads[v, p].append(out["threads"])
    finally:
        for proc in procs.values():
            proc.stdin.close()
            proc.wait(timeout=30)
    by_thread = {k: {g: statistics.median(r.get(g, 0.0) for r in rounds_) for g in {g for r in rounds_ for g in r}}
                 for k, rounds_ in threads.items()}
    return {k: statistics.median(vals) for k, vals in results.items()}, by_thread


def print_thread_table(by_thread, variants, paths):
    print("\nCPU ms per request by thread (median of rounds; threads of one kind added up)")
    groups = sorted({g for d in by_thread.values() for g in d}, key=lambda g: (g != "main", g))
    for p in paths:
        print(f"  {p}")
        print(f"    {'variant':<22}" + "".join(f"{g:>18}" for g in groups))
        for v in variants:
            print(f"    {v:<22}" + "".join(f"{by_thread[v, p].get(g, 0.0):18.3f}" for g in groups))


def print_cpu_table(medians, variants, paths):
    print("\nCPU ms per request, in-process (median of rounds); extra = over bare")
    print(f"  {'variant':<20}" + "".join(f"{p[:30]:>34}" for p in paths))
    for v in variants:
        cells = []
        for p in paths:
            extra = medians[v, p] - medians["bare", p] if ("bare", p) in medians else float("nan")
            cells.append(f"{medians[v, p]:8.3f} (+{extra:6.3f})".rjust(34))
        print(f"  {v:<20}" + "".join(cells))


# --- gunicorn --------------------------------------------------------------------------------

def start_gunicorn(env: dict, workers: int):
    from tests.fixtures.servers import free_port, wait_for_http

    port = free_port()
    log = tempfile.NamedTemporaryFile(prefix="bench-gunicorn-", suffix=".log", delete=False)  # noqa: SIM115
    proc = subprocess.Popen([str(ROOT / ".venv" / "bin" / "gunicorn"), "-c", str(APP_DIR / "config" / "gunicorn.py"),
                             "--bind", f"127.0.0.1:{port}", "--workers", str(workers), "config.wsgi:application"],
                            cwd=APP_DIR, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    wait_for_http(f"http://127.0.0.1:{port}/healthz", timeout=60, proc=proc)
    return proc, port


def stop_gunicorn(proc):
    from tests.fixtures.servers import stop_process

    stop_process(proc)


def load(port: int, paths, seconds: float, threads: int):
    import http.client

    latencies, errors = [], [0]
    deadline = time.perf_counter() + seconds
    lock = threading.Lock()

    def run(i):
        mine = []
        k = i
        while time.perf_counter() < deadline:
            path = paths[k % len(paths)]
            k += 1
            start = time.perf_counter()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            try:
                conn.request("GET", path)
                resp = conn.getresponse()
                resp.read()
                ok = resp.status == 200
            except OSError:
                ok = False
            finally:
                conn.close()
            mine.append(time.perf_counter() - start)
            if not ok:
                with lock:
                    errors[0] += 1
        with lock:
            latencies.extend(mine)

    started = time.perf_counter()
    pool = [threading.Thread(target=run, args=(i,)) for i in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    elapsed = time.perf_counter() - started
    latencies.sort()
    q = statistics.quantiles(latencies, n=100)
    return {"rps": len(latencies) / elapsed, "p50": q[49] * 1e3, "p95": q[94] * 1e3, "n": len(latencies),
            "errors": errors[0]}


def worker_rss_mib(master_pid: int) -> list[float]:
    """VmRSS of each of a gunicorn master's workers (its child processes), MiB."""
    from benchmarks.stack_memory import rss_mib
    from tests.fixtures.servers import child_pids

    return [mib for pid in child_pids(master_pid) if (mib := rss_mib(pid)) is not None]


def http_bench(variants, paths, common, tmp, seconds, threads, workers, rounds):
    results = {v: [] for v in variants}
    rss = {v: [] for v in variants}
    for r in range(rounds):
        for v in (variants if r % 2 == 0 else variants[::-1]):
            proc, port = start_gunicorn(variant_env(v, common, tmp), workers)
            try:
                load(port, paths, 2, threads)  # warm-up
                results[v].append(load(port, paths, seconds, threads))
                rss[v].extend(worker_rss_mib(proc.pid))  # after traffic on every path: imports, caches, buffers
            finally:
                stop_gunicorn(proc)
    kind = (f"{os.environ.get('GUNICORN_WORKER_CLASS', 'gthread')} x {os.environ.get('GUNICORN_THREADS', '4')} "
            f"threads, config/gunicorn.py")
    print(f"\ngunicorn ({workers} workers, {kind}), {threads} client threads, {seconds:.0f} s x {rounds} rounds "
          f"per variant, paths round-robin; medians of rounds; RSS: VmRSS per worker after the round's traffic "
          f"(median and max over workers and rounds)")
    print(f"  {'variant':<20}{'req/s':>8}{'P50 ms':>9}{'P95 ms':>9}{'requests':>10}{'errors':>8}"
          f"{'RSS MiB':>9}{'max':>7}")
    for v in variants:
        rs = results[v]
        med = {k: statistics.median(x[k] for x in rs) for k in ("rps", "p50", "p95")}
        rss_med = statistics.median(rss[v]) if rss[v] else float("nan")
        rss_max = max(rss[v]) if rss[v] else float("nan")
        print(f"  {v:<20}{med['rps']:8.1f}{med['p50']:9.2f}{med['p95']:9.2f}"
              f"{sum(x['n'] for x in rs):10d}{sum(x['errors'] for x in rs):8d}{rss_med:9.1f}{rss_max:7.1f}")


def scrape_bench(paths, common, tmp, workers=4, scrapes=20):
    import urllib.request

    proc, port = start_gunicorn(variant_env("ours", common, tmp), workers)
    try:
        load(port, paths, 10, 4)  # traffic on every worker first
        times, body = [], b""
        for _ in range(scrapes):
            start = time.perf_counter()
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as resp:
                body = resp.read()
            times.append((time.perf_counter() - start) * 1e3)
        lines = body.decode().splitlines()
        series = sum(1 for line in lines if line and not line.startswith("#"))
        files = len(list((tmp / "prom-ours").iterdir()))
        print(f"\n/metrics with {workers} gunicorn workers after traffic ({scrapes} scrapes, one at a time):")
        print(f"  median {statistics.median(times):.1f} ms, max {max(times):.1f} ms, {series} series, "
              f"{len(body) / 1024:.0f} KiB, {files} files in PROMETHEUS_MULTIPROC_DIR")
    finally:
        stop_gunicorn(proc)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--profile", metavar="VARIANT", help="cProfile this variant on --profile-path instead")
    parser.add_argument("--profile-path", default=ONE_QUERY)
    parser.add_argument("--count", metavar="VARIANT", help="count metric writes, Redis round trips and Sentry "
                        "work per request of this variant instead")
    parser.add_argument("--threads", action="store_true", help="CPU per request by thread (request thread, "
                        "Sentry transport, ...) after the in-process table")
    parser.add_argument("--profile-sort", default="tottime")
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("-n", type=int, default=400, help="requests per round")
    parser.add_argument("--variants", default=",".join(VARIANTS + EXTRA_VARIANTS))
    parser.add_argument("--paths", default=None, help="comma-separated (default: one-query view, real endpoints)")
    parser.add_argument("--no-cpu", action="store_true", help="skip the in-process table")
    parser.add_argument("--http", action="store_true", help="gunicorn throughput and P50/P95 per variant")
    parser.add_argument("--http-seconds", type=float, default=8.0)
    parser.add_argument("--http-rounds", type=int, default=2)
    parser.add_argument("--scrape", action="store_true", help="/metrics time and series with 4 workers")
    args = parser.parse_args()
    if args.worker:
        return worker()
    from tests.fixtures.sentry_server import SentryServer  # run from the repository root (python -m)

    tmp = Path(tempfile.mkdtemp(prefix="bench-instr-"))
    db_url = prepare_database(tmp)
    redis = _redis_url()
    sentry = SentryServer().start()
    common = {"DATABASE_URL": db_url, "REDIS_URL": redis or "", "CACHE_URL": redis or "",
              "BENCH_SENTRY_DSN": sentry.dsn, "ENVIRONMENT": "staging", "SECRET_KEY": "bench",
              "ALLOWED_HOSTS": "*"}
    if args.profile:
        env = variant_env(args.profile, common, tmp)
        os.environ.clear()
        os.environ.update(env)
        return profile(args.profile, args.profile_path, args.n * 5, args.profile_sort)
    slug = first_slug(db_url)
    paths = args.paths.split(",") if args.paths else [ONE_QUERY, "/healthz", "/api/v1/courses/",
                                                      f"/api/v1/courses/{slug}/"]
    if args.count:
        env = variant_env(args.count, common, tmp)
        os.environ.clear()
        os.environ.update(env)
        return count(args.count, paths, args.n)
    variants = args.variants.split(",")
    print(f"python {sys.version.split()[0]}, nproc {os.cpu_count()}, database {db_url.split(':')[0]}, "
          f"cache {'redis' if redis else 'local memory'}, {args.rounds} rounds x {args.n} requests")
    if not args.no_cpu:
        medians, by_thread = in_process(variants, paths, common, tmp, args.rounds, args.n)
        print_cpu_table(medians, variants, paths)
        if args.threads:
            print_thread_table(by_thread, variants, paths)
        sys.stdout.flush()
    if args.http:
        http_bench([v for v in variants if v in VARIANTS], paths, common, tmp, args.http_seconds, 4, 2,
                   args.http_rounds)
    if args.scrape:
        scrape_bench(paths, common, tmp)
    kinds: dict[str, int] = {}
    for _, item in sentry.items():
        kinds[item.type] = kinds.get(item.type, 0) + 1
    print(f"\nThe local Sentry server received {sentry.requests} envelopes: {kinds}")
    sentry.stop()


if __name__ == "__main__":
    main()
