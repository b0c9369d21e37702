"""gunicorn configuration shared by `make up`, docker compose and the tests.

Multiprocess Prometheus metrics: PROMETHEUS_MULTIPROC_DIR must exist and be empty when the
master starts (stale files from a previous run would be summed in), and a dead worker's live
gauges must be marked so they stop counting; its counter, histogram and summary files are merged
into one aggregate per type, so scrapes do not slow down with every restart (observability.multiproc;
GUNICORN_METRICS_MERGE=0 turns that off, for benchmarks/metrics_growth.py's "before").  The moment
the master wipes the directory is when this target's counters begin: process_start_time_seconds on
/metrics (observability.process_start), the same for every worker, respawned ones included, since
they inherit the master's environment.
"""
import os
import shutil
from pathlib import Path

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("GUNICORN_WORKERS", "3"))
# Threads, not sync workers: a sign-in's password hash (PBKDF2, ~0.5 s of CPU; hashlib releases the
# GIL) held a whole sync worker, and at 50 users the requests queued behind it pushed course list and
# detail P95 past their Needs-work lines (510 / 490 ms) while the app saw 10 ms. With 4 threads per
# worker the same run's P95s were 21-39 ms (docs/benchmarks.md 4a).  GUNICORN_WORKER_CLASS=sync to compare.
worker_class = os.environ.get("GUNICORN_WORKER_CLASS", "gthread")
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = 10
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "0"))
# gunicorn's default (2 s) closes an idle keep-alive connection before a client or a load balancer does: one that
# reuses it at that moment loses its request (Locust, 50 users thinking 2-8 s: a POST failed "connection closed" and
# was never counted; an ALB with its 60 s idle timeout answers 502).  Longer than common balancers' idle timeouts, so
# the server is never the side that closes first; with gthread an idle connection costs a poller entry, not a thread.
keepalive = int(os.environ.get("GUNICORN_KEEPALIVE", "75"))
max_requests_jitter = max_requests // 10
accesslog = os.environ.get("GUNICORN_ACCESSLOG")  # None: off; "-" for stdout
errorlog = "-"
proc_name = "studio-app"
# gunicorn >= 23.1 opens a control socket under ~/.gunicorn unless told not to.
control_socket_disable = True
metrics_merge = os.environ.get("GUNICORN_METRICS_MERGE", "1") != "0"


def on_starting(server):
    path = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if path:
        from observability import process_start

        shutil.rmtree(path, ignore_errors=True)
        Path(path).mkdir(parents=True, exist_ok=True)
        # Once, in the master, before any worker is forked: a worker gunicorn respawns must report the
        # same start (the counts of the one it replaces stay in the directory); only a new master moves it.
        process_start.mark_counters_start()


def child_exit(server, worker):
    path = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if path:
        from prometheus_client import multiprocess

        from observability import multiproc

        multiprocess.mark_process_dead(worker.pid)
        # Every worker that ever lived would otherwise leave its files for every later scrape to read:
        # fold them into one aggregate per type (exact, never raises; here because the master forks no
        # worker while it runs, so no new process can take the dead pid's file meanwhile).
        if metrics_merge:
            multiproc.merge_dead_files(path)
