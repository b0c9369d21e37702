"""Event hooks: options, the graded table, the fidelity line and the exit status.

Registered once (imported by locustfile.py).  Grading and fidelity run only where the whole run's
statistics are: on the local runner, or on the master of a distributed run.  Workers only flush
their last statistics to the master when they stop, so the master grades complete numbers.

When a test stops (``test_stop``; on a headless master, and when interrupted, ``quitting``):

1. per endpoint average, P50, P95 and P99 against the target table (app/core/grading.py), printed
   and written to ``<reports-dir>/grades.{txt,json,csv}``; Locust's HTML report goes to
   ``<reports-dir>/locust-report.html`` unless --html says otherwise;
2. the fidelity line: requests per view counted by Locust and by the app's /metrics over the same
   run (read at test start and test stop), and P95 from both (app/core/fidelity.py);
3. ``environment.process_exit_code``: 1 when an endpoint needs work, more than 1 % of requests
   failed or the locustfile raised, else 0.
"""
from __future__ import annotations

import json
import logging
import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from locust import __version__ as locust_version
from locust import events
from locust.exception import RPCError
from locust.runners import MasterRunner, WorkerRunner

import monitoring_spec as spec
from core import fidelity, grading

logger = logging.getLogger("loadtests")

# Users finishing the task they are in when the test stops (instead of being killed mid-request)
# is what lets Locust's count equal the app's: a killed request is still served and counted there.
DEFAULT_STOP_TIMEOUT = 10.0
GRADED_VIEWS = [view for target in spec.TARGETS for view in target.views]

_run: dict = {"started": None, "graded": True, "baseline": None, "baseline_error": None, "peak_users": 0}


@events.init_command_line_parser.add_listener
def _options(parser) -> None:
    parser.add_argument("--reports-dir", default="reports", env_var="LOCUST_REPORTS_DIR",
                        help="where grades.{txt,json,csv}, capacity.json and the HTML report go (default: reports)")
    parser.add_argument("--metrics-url", default="", env_var="LOCUST_METRICS_URL",
                        help="the app's Prometheus endpoint for the fidelity check (default: <host>/metrics); "
                             "METRICS_TOKEN (or the file METRICS_TOKEN_FILE names) is sent as a bearer token")
    parser.add_argument("--think-scale", type=float, default=1.0, env_var="LOCUST_THINK_SCALE",
                        help="multiply every persona's think time (default 1.0; 0.1 for a quick smoke run)")
    parser.add_argument("--seed-users", type=int, default=200, env_var="LOCUST_SEED_USERS",
                        help="students sign in as student00001..student<N> of seed_data (default 200)")
    parser.add_argument("--step-users", type=int, default=10, env_var="LOCUST_STEP_USERS",
                        help="LOAD_SHAPE=step: users added per step (default 10)")
    parser.add_argument("--step-seconds", type=float, default=30.0, env_var="LOCUST_STEP_SECONDS",
                        help="LOAD_SHAPE=step: length of a step (default 30)")
    parser.add_argument("--step-window", type=float, default=20.0, env_var="LOCUST_STEP_WINDOW",
                        help="LOAD_SHAPE=step: judge each endpoint on its last N seconds of the step (default 20)")
    parser.add_argument("--step-max-users", type=int, default=300, env_var="LOCUST_STEP_MAX_USERS",
                        help="LOAD_SHAPE=step: stop raising the load here (default 300)")
    parser.add_argument("--step-min-requests", type=int, default=5, env_var="LOCUST_STEP_MIN_REQUESTS",
                        help="LOAD_SHAPE=step: an endpoint is judged in a window from this many requests (default 5)")


def _is_worker(environment) -> bool:
    return isinstance(environment.runner, WorkerRunner)


def _reports_dir(environment) -> Path:
    options = environment.parsed_options
    return Path(getattr(options, "reports_dir", None) or "reports")


def _metrics_url(environment) -> str | None:
    options = environment.parsed_options
    url = getattr(options, "metrics_url", "") if options is not None else ""
    if url:
        return url
    return environment.host.rstrip("/") + "/metrics" if environment.host else None


def _metrics_token() -> str | None:
    """METRICS_TOKEN, else the contents of METRICS_TOKEN_FILE (a production-mode stack's generated token)."""
    token = os.environ.get("METRICS_TOKEN")
    path = os.environ.get("METRICS_TOKEN_FILE")
    if not token and path:
        try:
            token = Path(path).read_text().strip()
        except OSError as exc:
            logger.warning("METRICS_TOKEN_FILE %s cannot be read: %s", path, exc.strerror)
    return token or None


@events.init.add_listener
def _on_init(environment, **_kw) -> None:
    if not environment.stop_timeout:
        environment.stop_timeout = DEFAULT_STOP_TIMEOUT
    options = environment.parsed_options
    if _is_worker(environment) or options is None:
        return
    if not getattr(options, "html_file", None):
        options.html_file = str(_reports_dir(environment) / "locust-report.html")


@events.spawning_complete.add_listener
def _on_spawned(user_count, **_kw) -> None:
    _run["peak_users"] = max(_run["peak_users"], user_count)
    environment = _run.get("environment")
    if environment is not None and environment.reset_stats and not _is_worker(environment):
        # --reset-stats: Locust forgets the ramp-up now, so the /metrics baseline moves here too.
        _take_baseline(environment)


@events.test_start.add_listener
def _on_test_start(environment, **_kw) -> None:
    if _is_worker(environment):
        return
    _run.update(started=time.time(), graded=False, peak_users=0, environment=environment)
    _take_baseline(environment)


def _take_baseline(environment) -> None:
    _run.update(baseline=None, baseline_error=None)
    url = _metrics_url(environment)
    if url is None:
        _run["baseline_error"] = "no --host, so no /metrics to read"
        return
    try:
        _run["baseline"] = fidelity.fetch_metrics(url, _metrics_token())
    except fidelity.MetricsUnavailable as exc:
        _run["baseline_error"] = str(exc)


@events.test_stop.add_listener
def _on_test_stop(environment, **_kw) -> None:
    if _is_worker(environment):
        # Send what this worker measured since its last report now, before it tells the master it stopped.
        try:
            environment.runner._send_stats()
        except (RPCError, OSError) as exc:  # the master grades what it has
            logger.warning("could not flush the last statistics to the master: %s", exc)
        return
    options = environment.parsed_options
    if isinstance(environment.runner, MasterRunner) and options is not None and options.headless:
        # A headless master stops by quitting: test_stop fires before the workers are even told to
        # stop, and their final statistics arrive during quit().  Grade at `quitting`, after them.
        return
    _finish(environment)


@events.quitting.add_listener
def _on_quitting(environment, **_kw) -> None:
    if not _is_worker(environment) and not _run["graded"]:
        _finish(environment)  # interrupted before the test stopped


def _results(environment) -> list[grading.EndpointResult]:
    rows = []
    for (name, method), entry in sorted(environment.runner.stats.entries.items()):
        has = entry.num_requests > 0
        rows.append(grading.EndpointResult(
            name=name, method=method, requests=entry.num_requests, failures=entry.num_failures,
            avg_ms=entry.avg_response_time if has else None,
            min_ms=entry.min_response_time if has else None, max_ms=entry.max_response_time if has else None,
            p50_ms=entry.get_response_time_percentile(0.50) if has else None,
            p95_ms=entry.get_response_time_percentile(0.95) if has else None,
            p99_ms=entry.get_response_time_percentile(0.99) if has else None,
            rps=entry.total_rps if has else None))
    return rows


def _fidelity(environment, rows: list[grading.EndpointResult]) -> fidelity.FidelityReport:
    if _run["baseline"] is None:
        return fidelity.FidelityReport(skipped=_run["baseline_error"] or "/metrics was not read at test start")
    try:
        after = fidelity.fetch_metrics(_metrics_url(environment), _metrics_token())
    except fidelity.MetricsUnavailable as exc:
        return fidelity.FidelityReport(skipped=str(exc))
    counts: dict[str, tuple[int, float | None]] = {}
    for r in rows:
        n, p95 = counts.get(r.name, (0, None))
        counts[r.name] = (n + r.requests, r.p95_ms if p95 is None else max(p95, r.p95_ms or 0))
    report = fidelity.compare(counts, after.minus(_run["baseline"]), p95_views=GRADED_VIEWS)
    if environment.reset_stats:
        report.note = "--reset-stats: requests in flight when the statistics were reset count on one side only"
    return report


def _finish(environment) -> None:
    if _run["started"] is None:
        return  # no test ran (web UI opened and closed)
    _run["graded"] = True
    rows = _results(environment)
    report = grading.grade_run(rows, exceptions=len(environment.runner.exceptions), expected=GRADED_VIEWS)
    fid = _fidelity(environment, rows)
    shape = environment.shape_class
    capacity = shape.conclude("the test stopped before a limit was found") if hasattr(shape, "conclude") else None
    report.meta = {
        "host": environment.host,
        "started_at": datetime.fromtimestamp(_run["started"], UTC).isoformat(timespec="seconds"),
        "duration_s": round(time.time() - _run["started"], 1),
        "peak_users": _run["peak_users"],
        "shape": type(shape).__name__ if shape is not None else None,
        "locust_version": locust_version,
        "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]),
        "fidelity": fid.to_dict(),
        **({"capacity": capacity} if capacity else {}),
    }
    out = _reports_dir(environment)
    table = grading.render_load_table(
        report, title=f"Graded results: {report.meta['peak_users']} users, {report.meta['duration_s']:.0f}s "
                      f"against {environment.host}")
    paths = grading.write_reports(report, out, table=table)
    if capacity:
        (out / "capacity.json").write_text(json.dumps(capacity, indent=2) + "\n")
    lines = ["", table, fid.line()]
    if fid.skipped is None:
        lines.append(fid.details())
    if capacity:
        lines.append(capacity["summary"])
    lines.append("Reports: " + ", ".join(str(p) for p in paths.values())
                 + (f", {out / 'capacity.json'}" if capacity else "")
                 + (f", {environment.parsed_options.html_file} (written on exit)"
                    if environment.parsed_options is not None and environment.parsed_options.html_file else ""))
    sys.stdout.write("\n".join(lines) + "\n\n")
    sys.stdout.flush()
    environment.process_exit_code = report.exit_code
