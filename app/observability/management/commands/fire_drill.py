"""Make one of the guide's alert conditions happen, through the running app's real code paths.

    python manage.py fire_drill error-spike|slow|error-rate|db-slow|all [--url http://127.0.0.1:8000]

Development only: it drives the /_drill/ endpoints (which exist only with DEBUG or
ENABLE_DRILL_ENDPOINTS) of a running app over HTTP, so the errors, latencies and slow queries go
through gunicorn, the middleware, the metrics and Sentry exactly as real ones would.  How much of
each it makes is derived from the spec: just enough to cross the threshold, and no more than
the other alerts' thresholds, so each drill pages only for its own alert.
"""
from __future__ import annotations

import json
import math
import os
import time
import urllib.error
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

import monitoring_spec as spec

# The slow drill runs after the drills that send fast requests: it is sized to the traffic they add.
DRILLS = ("error-spike", "error-rate", "slow", "db-slow")
MAX_SLOW_REQUESTS = 300  # bounded: a very busy app needs --prometheus-url left out and a quiet moment
EXPECTED = {  # the alert each drill fires and, per the guide, who gets paged
    "error-spike": ("ErrorSpike", "email, Slack"),
    "slow": ("SlowTransactions", "email"),
    "error-rate": ("HighErrorRate", "email, Slack, PagerDuty"),
    "db-slow": ("DatabaseIssues", "email"),
}


def plan(drill: str, recent_requests: float = 0.0) -> list[str]:
    """The request paths a drill sends, in order.

    `recent_requests`: responses Prometheus counted in the alert window (other traffic dilutes the
    5xx share, so a busy app needs more errors to cross HighErrorRate's ratio).
    """
    if drill == "error-spike":
        # Errors logged at ERROR (what Sentry captures) while the responses stay 200: the spike alone,
        # without a 5xx rate, whose HighErrorRate page would rightly inhibit ErrorSpike.
        return ["/_drill/log-error/"] * (spec.ERROR_SPIKE_MIN_ERRORS + 1)
    if drill == "slow":
        # Requests slower than the P95 line: more than twice the 5 % tail of the window's traffic
        # (ours included), so the P95 lands above the line.
        ms = int(spec.SLOW_TRANSACTION_P95_SECONDS * 1000 * 1.5)
        tail = (1 - spec.SLOW_TRANSACTION_QUANTILE) * 2
        return [f"/_drill/slow/?ms={ms}"] * min(MAX_SLOW_REQUESTS, max(10, math.ceil(tail * recent_requests / (1 - tail))))
    if drill == "error-rate":
        ratio = spec.HIGH_ERROR_RATE_RATIO * 2  # a clear margin over the threshold
        if recent_requests >= spec.HIGH_ERROR_RATE_MIN_REQUESTS:
            # Twice the ratio of all the window's traffic, ours included; ErrorSpike may fire too.
            return ["/_drill/status/503/"] * math.ceil(ratio * recent_requests / (1 - ratio))
        # A quiet app: 5xx responses just under the error-spike count, in enough user traffic for twice the
        # ratio (a 200 of the drills app: probes such as /healthz are not user traffic and do not count).
        errors = spec.ERROR_SPIKE_MIN_ERRORS - 1
        total = max(spec.HIGH_ERROR_RATE_MIN_REQUESTS * 2,
                    math.ceil(errors / ratio))
        return ["/_drill/status/503/"] * errors + ["/_drill/perf/"] * (total - errors)
    if drill == "db-slow":
        ms = int(spec.DB_SLOW_QUERY_SECONDS * 1000) + 150
        return [f"/_drill/db-slow/?ms={ms}"]
    raise ValueError(drill)


def send(base_url: str, path: str) -> int:
    try:
        with urllib.request.urlopen(base_url.rstrip("/") + path, timeout=30) as resp:
            return resp.status
    except urllib.error.HTTPError as exc:
        return exc.code


def recent_requests(prometheus_url: str | None) -> float:
    """Responses in the alert window according to Prometheus (0 when not asked or not answering)."""
    if not prometheus_url:
        return 0.0
    query = urllib.parse.urlencode({"query": "sum(studio:django_http_responses:increase5m)"})
    try:
        with urllib.request.urlopen(f"{prometheus_url.rstrip('/')}/api/v1/query?{query}", timeout=5) as resp:
            result = json.load(resp)["data"]["result"]
        return float(result[0]["value"][1]) if result else 0.0
    except (OSError, ValueError, KeyError, IndexError):
        return 0.0


def run(drill: str, base_url: str, concurrency: int = 8, recent: float = 0.0) -> dict[int, int]:
    with ThreadPoolExecutor(concurrency) as pool:
        statuses = list(pool.map(lambda p: send(base_url, p), plan(drill, recent)))
    counts: dict[int, int] = {}
    for s in statuses:
        counts[s] = counts.get(s, 0) + 1
    return counts


class Command(BaseCommand):
    help = "Make an alert condition happen through the running app (development only)."

    def add_arguments(self, parser):
        parser.add_argument("drill", choices=(*DRILLS, "all"))
        parser.add_argument("--url", default=None, help="the running app (default http://127.0.0.1:$APP_PORT)")
        parser.add_argument("--prometheus-url", default=None,
                            help="size the error-rate drill to the traffic Prometheus saw in the window")

    def handle(self, *args, drill: str, url: str | None, prometheus_url: str | None = None, **options):
        if settings.ENVIRONMENT != "development":
            raise CommandError(f"fire_drill runs in development only (ENVIRONMENT is {settings.ENVIRONMENT})")
        # os.environ, not config.env (observability never imports config): manage.py has read .env into it.
        base_url = url or f"http://127.0.0.1:{os.environ.get('APP_PORT') or '8000'}"
        try:
            send(base_url, "/healthz")
        except OSError as exc:
            raise CommandError(f"no app answers at {base_url} ({exc}); start it with `make up`") from None
        sent = 0  # by the earlier drills of this run: in the window, though Prometheus may not have scraped them yet
        for name in DRILLS if drill == "all" else (drill,):
            started = time.monotonic()
            recent = recent_requests(prometheus_url) + sent if name in ("error-rate", "slow") else 0.0
            counts = run(name, base_url, recent=recent)
            sent += sum(counts.values())
            if 404 in counts and len(counts) == 1:
                raise CommandError(
                    f"{base_url} has no drill endpoints (404): they exist with DEBUG or ENABLE_DRILL_ENDPOINTS and "
                    "never in production, so a stack started with STACK_ENV=production has none (`make status` "
                    "names the settings); the fire drill needs the development stack: `make down && make up`")
            alert, receivers = EXPECTED[name]
            summary = ", ".join(f"{n}x {status}" for status, n in sorted(counts.items()))
            self.stdout.write(f"{name}: sent {sum(counts.values())} requests ({summary}) in "
                              f"{time.monotonic() - started:.1f}s; expect {alert} -> {receivers}")
        self.stdout.write("pages arrive after the next rule evaluation and the alert's `for:` (make pages).")
