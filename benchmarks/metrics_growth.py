"""/metrics cost as the work grows (docs/benchmarks.md): figures, not tests.

    .venv/bin/python -m benchmarks.metrics_growth                   # merge off, then on, every series
    .venv/bin/python -m benchmarks.metrics_growth --no-merge        # only as before the merge
    .venv/bin/python -m benchmarks.metrics_growth --scrapes 10 --only dead

Scrape time (median and P95 of --scrapes scrapes of /metrics over HTTP, one at a time), the collector's
own CPU time on the same directory (in this process: less of a shared machine's noise) and the response
(bytes, series) of a real gunicorn on a free port (config/gunicorn.py, gthread, the "ours" settings of
benchmarks/bench_settings.py without Sentry: DEBUG off, the project's middleware, multiprocess metrics),
after traffic on every view of the run, against three things, one at a time from 4 workers, 0 dead
workers' files, 4 views:
  workers  gunicorn workers 1, 4, 8, 16
  dead     0, 100, 1000 dead workers' files: one worker's files after the traffic, copied under pids no
           process can have (above the kernel's pid_max), which is what a restart leaves behind; then one
           real worker is restarted (SIGTERM, so the master's child_exit runs: with the merge on, it folds
           every dead pid's files into the aggregate).  So "dead N" is N copies + 1 real restart.
  views    4, 20, 40 distinct views with traffic (the project's endpoints, then the admin's pages, which
           answer anonymous GETs with a redirect: each view adds its latency histogram and response counters)
--merge / --no-merge run one mode (GUNICORN_METRICS_MERGE); default both, interleaved per configuration.
Bounded: fixed request counts per configuration; stops by itself.  Prints a table and writes the figures
as JSON to var/benchmarks/metrics-growth-<UTC time>.json.
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import signal
import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

from benchmarks.instrumentation_cost import (
    ROOT,
    first_slug,
    prepare_database,
    start_gunicorn,
    stop_gunicorn,
    variant_env,
)

WORKERS = (1, 4, 8, 16)
DEAD = (0, 100, 1000)
VIEWS = (4, 20, 40)
BASE = {"workers": 4, "dead": 0, "views": 4}
FAKE_PID = 5_000_000  # above any kernel's pid_max (at most 2**22): no process can have these pids
ADMIN_MODELS = ("auth/group", "auth/user", "accounts/profile", "accounts/apitoken", "courses/course",
                "courses/enrollment", "forum/category", "forum/topic", "forum/post")


def view_paths(slug: str) -> list[str]:
    """One path per distinct view, in the order the runs take them."""
    paths = ["/_drill/perf/?queries=1", "/healthz", "/api/v1/courses/", f"/api/v1/courses/{slug}/",
             "/readyz", "/api/v1/forum/topics/", "/api/v1/users/1/profile/", "/api/v1/me/", "/api/v1/nothing/",
             "/_drill/status/404/", "/admin/", "/admin/login/", "/admin/password_change/"]
    paths += [f"/admin/{app}/" for app in ("auth", "accounts", "courses", "forum")]
    for model in ADMIN_MODELS:
        paths += [f"/admin/{model}/", f"/admin/{model}/add/", f"/admin/{model}/1/change/"]
    return paths


def traffic(port: int, paths: list[str], requests: int, threads: int = 8) -> int:
    """GET the paths round-robin, `requests` in all; returns how many got no answer (any status counts:
    a 404 or a redirect is traffic on its view too)."""
    failed = [0]
    lock = threading.Lock()

    def run(i):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
        for k in range(i, requests, threads):
            try:
                conn.request("GET", paths[k % len(paths)], headers={"Connection": "close"})
                resp = conn.getresponse()
                resp.read()
                bad = False
            except OSError:
                bad = True
            conn.close()
            if bad:
                with lock:
                    failed[0] += 1

    pool = [threading.Thread(target=run, args=(i,)) for i in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return failed[0]


def scrape_once(port: int) -> tuple[float, bytes]:
    start = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    conn.request("GET", "/metrics")
    resp = conn.getresponse()
    body = resp.read()
    conn.close()
    if resp.status != 200:
        raise RuntimeError(f"/metrics answered {resp.status}: {body[:300]!r}")
    return (time.perf_counter() - start) * 1e3, body


def workers_of(master: int) -> set[int]:
    from tests.fixtures.servers import child_pids

    return child_pids(master)


def fake_dead_workers(metrics_dir: Path, workers: set[int], n: int) -> None:
    """n copies of the files of the worker that wrote most, under pids no process can have."""
    def size(pid):
        return sum(p.stat().st_size for p in metrics_dir.glob(f"*_{pid}.db"))

    source = max(workers, key=size)
    files = [p for p in metrics_dir.glob(f"*_{source}.db")]
    for i in range(n):
        for p in files:
            shutil.copyfile(p, metrics_dir / p.name.replace(f"_{source}.db", f"_{FAKE_PID + i}.db"))


def restart_one_worker(proc, workers: int) -> float:
    """SIGTERM one worker (graceful, as max_requests recycling does) and wait for its replacement;
    returns the seconds until the master had a full set again (its child_exit, hence the merge, included)."""
    from tests.fixtures.servers import wait_for_children

    victim = min(workers_of(proc.pid))
    start = time.perf_counter()
    os.kill(victim, signal.SIGTERM)
    wait_for_children(proc.pid, workers, exclude={victim}, timeout=120)
    return time.perf_counter() - start


def collect_cpu_ms(metrics_dir: Path, n: int) -> float:
    """The collector's own CPU per scrape (median, this process, the same directory): what the files cost,
    with less of the shared machine's noise than the wall time over HTTP."""
    from prometheus_client import CollectorRegistry

    from observability import multiproc

    collector = multiproc.MultiProcessCollector(CollectorRegistry(), path=str(metrics_dir))
    out = []
    for _ in range(n):
        start = time.process_time()
        list(collector.collect())
        out.append((time.process_time() - start) * 1e3)
    return statistics.median(out)


def kept_dir(tmp: Path, config: dict, merge: bool) -> Path:
    return tmp / f"kept-{'merge' if merge else 'nomerge'}-{config['workers']}-{config['dead']}-{config['views']}"


def interleaved_ratio(fresh: Path, other: Path, n: int) -> float:
    """The collector's CPU on `other` over `fresh`, timed alternately in this process: a ratio a load change
    during the run does not move."""
    from prometheus_client import CollectorRegistry

    from observability import multiproc

    collectors = {d: multiproc.MultiProcessCollector(CollectorRegistry(), path=str(d)) for d in (fresh, other)}
    times: dict[Path, list[float]] = {fresh: [], other: []}
    for i in range(n):
        for d in ((fresh, other) if i % 2 else (other, fresh)):
            start = time.process_time()
            list(collectors[d].collect())
            times[d].append(time.process_time() - start)
    return statistics.median(times[other]) / statistics.median(times[fresh])


def measure(config: dict, merge: bool, common: dict, tmp: Path, paths: list[str], scrapes: int) -> dict:
    env = variant_env("ours", common, tmp)
    env["GUNICORN_METRICS_MERGE"] = "1" if merge else "0"
    metrics_dir = Path(env["PROMETHEUS_MULTIPROC_DIR"])
    proc, port = start_gunicorn(env, config["workers"])
    try:
        from tests.fixtures.servers import wait_for_children

        live = wait_for_children(proc.pid, config["workers"], timeout=120)
        views = paths[:config["views"]]
        failed = traffic(port, views, max(200, 6 * len(views) * config["workers"]))
        restart_s = None
        if config["dead"]:
            fake_dead_workers(metrics_dir, live, config["dead"])
            restart_s = restart_one_worker(proc, config["workers"])
            # The replacement's own traffic, so that it has files like the others.
            failed += traffic(port, views, 2 * len(views) * config["workers"])
        scrape_once(port)  # warm: the answering worker's imports and registry
        times, body = [], b""
        for _ in range(scrapes):
            ms, body = scrape_once(port)
            times.append(ms)
        times.sort()
        collect_cpu = collect_cpu_ms(metrics_dir, scrapes)
        shutil.copytree(metrics_dir, kept_dir(tmp, config, merge))
        lines = body.decode().splitlines()
        return {**config, "merge": merge, "median_ms": statistics.median(times),
                "p95_ms": times[min(len(times) - 1, round(0.95 * (len(times) - 1)))], "collect_cpu_ms": collect_cpu,
                "bytes": len(body), "series": sum(1 for line in lines if line and not line.startswith("#")),
                "files": len(list(metrics_dir.glob("*.db"))), "failed_requests": failed,
                "restart_s": restart_s, "scrapes": scrapes}
    finally:
        stop_gunicorn(proc)


def configurations(only: list[str]) -> list[dict]:
    out = []
    for axis, values in (("workers", WORKERS), ("dead", DEAD), ("views", VIEWS)):
        if only and axis not in only:
            continue
        for value in values:
            config = {**BASE, axis: value}
            if config not in out:
                out.append(config)
    return out


def print_table(rows: list[dict]) -> None:
    print(f"\n  {'workers':>7}{'dead':>6}{'views':>6}  {'merge':<6}{'median ms':>10}{'P95 ms':>9}{'x fresh':>8}"
          f"{'collect CPU ms':>15}{'x fresh':>8}{'A/B':>8}{'KiB':>7}{'series':>8}{'files':>7}{'restart s':>10}")
    fresh = {r["merge"]: r for r in rows if (r["workers"], r["dead"], r["views"]) == tuple(BASE.values())}

    def ratio(r, key):
        return f"{r[key] / fresh[r['merge']][key]:8.2f}" if r["merge"] in fresh else " " * 8

    for r in rows:
        restart = f"{r['restart_s']:10.2f}" if r["restart_s"] is not None else " " * 10
        print(f"  {r['workers']:>7}{r['dead']:>6}{r['views']:>6}  {'on' if r['merge'] else 'off':<6}"
              f"{r['median_ms']:10.1f}{r['p95_ms']:9.1f}{ratio(r, 'median_ms')}{r['collect_cpu_ms']:15.2f}"
              f"{ratio(r, 'collect_cpu_ms')}{r.get('collect_ab', float('nan')):8.2f}{r['bytes'] / 1024:7.0f}"
              f"{r['series']:>8}{r['files']:>7}{restart}")
    print("  x fresh: over the same mode's 4 workers / 0 dead / 4 views; collect CPU ms: the collector alone, "
          "in this process, on the same directory (median); A/B: the same over the fresh directory, timed alternately")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--merge", dest="modes", action="store_const", const=[True], help="merge on only")
    mode.add_argument("--no-merge", dest="modes", action="store_const", const=[False], help="merge off only")
    parser.add_argument("--scrapes", type=int, default=30, help="scrapes per configuration (default 30)")
    parser.add_argument("--only", default="", help="comma-separated axes: workers,dead,views (default all)")
    parser.add_argument("--out", default=None, help="JSON file (default var/benchmarks/metrics-growth-<time>.json)")
    args = parser.parse_args()
    modes = args.modes or [False, True]

    tmp = Path(tempfile.mkdtemp(prefix="bench-metrics-growth-"))
    try:
        db_url = prepare_database(tmp)
        common = {"DATABASE_URL": db_url, "REDIS_URL": "", "CACHE_URL": "", "ENVIRONMENT": "staging",
                  "SECRET_KEY": "bench", "ALLOWED_HOSTS": "*"}
        paths = view_paths(first_slug(db_url))
        load = Path("/proc/loadavg").read_text().split()[:3] if Path("/proc/loadavg").exists() else []
        print(f"python {sys.version.split()[0]}, nproc {os.cpu_count()}, database {db_url.split(':')[0]}, "
              f"cache local memory, load average {' '.join(load)}, {args.scrapes} scrapes per configuration")
        rows = []
        for config in configurations([a for a in args.only.split(",") if a]):
            for merge in modes:
                row = measure(config, merge, common, tmp, paths, args.scrapes)
                rows.append(row)
                print(f"  {row}", flush=True)
        base = [r for r in rows if (r["workers"], r["dead"], r["views"]) == tuple(BASE.values())]
        for r in rows:  # the directories' copies were kept: the ratio to fresh, timed alternately
            fresh = [b for b in base if b["merge"] == r["merge"]]
            if fresh:
                r["collect_ab"] = interleaved_ratio(kept_dir(tmp, BASE, r["merge"]), kept_dir(tmp, r, r["merge"]),
                                                    max(20, min(200, 2000 // max(1, r["files"]))))
        print_table(rows)
        out = Path(args.out) if args.out else ROOT / "var" / "benchmarks" / (
            f"metrics-growth-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json")
        out.parent.mkdir(parents=True, exist_ok=True)
        end_load = Path("/proc/loadavg").read_text().split()[:3] if load else []
        out.write_text(json.dumps({"nproc": os.cpu_count(), "load_start": load, "load_end": end_load,
                                   "database": db_url.split(":")[0], "rows": rows}, indent=1))
        print(f"\nload average at the end {' '.join(end_load)}; figures in {out}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
