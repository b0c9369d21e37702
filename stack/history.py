"""A week (or more) of realistic history of the app's metrics, as OpenMetrics text for `promtool tsdb
create-blocks-from openmetrics` (stack/backfill.py loads it).

The series are the ones the live app, worker and Redis exporter export (docs/metrics.md; names from
monitoring_spec.contract, bucket edges from monitoring_spec.buckets), with the job and instance labels the
stack's scrape configuration gives them: backfilled samples get none from scraping.  Deterministic (a seed):
the same arguments write the same bytes, and `History` keeps the per-step events it was built from, so a test
can compute what any query must answer without asking Prometheus.

What happens in it: traffic with a daily rhythm (quiet nights, an afternoon peak, lighter weekends); the four
endpoints of the target table within target, the forum's topic list slower at the peak; a few errors a day of
a few types; a deploy (the processes restart, counters begin again, the release changes); and two incidents
near the end: a database outage (a burst of 500s and OperationalErrors: ErrorSpike, HighErrorRate, the
availability budget) and a night of slow queries (DatabaseIssues).
"""
from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np

import monitoring_spec as spec
from monitoring_spec import contract
from monitoring_spec.promql import le_label

STEP = 60  # seconds between samples: `rate(x[5m])` sees five, the rules' evaluations line up with them
SEED = 20261130
QUERY_COUNT_BUCKETS = (0, 1, 2, 3, 5, 8, 13, 21, 34, 55, 89, float("inf"))  # observability.metrics'
RELEASES = ("2026.11.1", "2026.11.2")  # before and after the deploy
ENVIRONMENT = "development"
TASK_CONFIRM = "courses.tasks.send_enrollment_confirmation"
TASK_STATS = "courses.tasks.recompute_course_stats"


@dataclass(frozen=True)
class View:
    view: str
    method: str
    per_minute: float  # requests per minute at the daily peak
    median_s: float  # latency median off-peak
    peak_slowdown: float  # the median grows by this share at the peak (load)
    sigma: float  # lognormal spread
    queries: int  # database queries per request
    cache_reads: int  # cache reads per request
    hit_ratio: float
    status: str = "200"


VIEWS: tuple[View, ...] = (
    View("courses:course-list", "GET", 30, 0.055, 0.25, 0.45, 3, 2, 0.88),
    View("courses:course-detail", "GET", 20, 0.045, 0.25, 0.45, 4, 2, 0.92),
    View("accounts:user-profile", "GET", 8, 0.030, 0.20, 0.40, 3, 1, 0.75),
    View("accounts:me", "GET", 5, 0.025, 0.20, 0.40, 2, 1, 0.80),
    # The slower one: a topic list whose reply counts and last posts cost more under load.
    View("forum:topic-list", "GET", 10, 0.110, 0.50, 0.35, 5, 1, 0.60),
    View("courses:course-enroll", "POST", 2, 0.180, 0.30, 0.50, 6, 0, 0.0, "201"),
    View("accounts:token", "POST", 1.5, 0.260, 0.10, 0.25, 2, 0, 0.0),
    View("forum:post-create", "POST", 1.5, 0.090, 0.30, 0.45, 5, 0, 0.0, "201"),
)
SCRAPE_VIEW = View("prometheus-django-metrics", "GET", 12, 0.012, 0.0, 0.30, 0, 0, 0.0)  # Prometheus' scrapes
BARE_5XX_VIEW = ("forum:topic-list", "GET")
COUNTRIES = (("US", 0.35), ("DE", 0.15), ("IN", 0.15), ("GB", 0.1), ("BR", 0.1), ("unknown", 0.15))


@dataclass(frozen=True)
class Targets:
    """The scrape targets the history is of: (job, instance) labels as the stack's Prometheus names them."""

    app: tuple[str, ...] = ("127.0.0.1:8000",)
    worker: tuple[str, ...] = ("127.0.0.1:9808",)
    redis: str = "127.0.0.1:9121"
    labels: tuple[tuple[str, str], ...] = ()  # the file_sd targets' own labels (the stack: deployment=local)


@dataclass(frozen=True)
class Window:
    """Something that happened: [start, start + minutes) at `days_before_end` days before the end, UTC clock."""

    days_before_end: int
    hour: int
    minute: int
    minutes: int


@dataclass(frozen=True)
class Plan:
    days: int = 8
    end: int = 0  # epoch seconds (a multiple of STEP); 0: now
    seed: int = SEED
    targets: Targets = Targets()
    deploy: Window = Window(4, 9, 30, 0)
    db_outage: Window = Window(2, 14, 10, 20)  # 500s on every database-backed view
    db_outage_failing: float = 0.3  # share of those views' requests that fail
    slow_queries: Window = Window(5, 3, 0, 30)  # a report's queries take seconds
    slow_queries_per_minute: float = 2.0


@dataclass
class Series:
    name: str
    labels: dict[str, str]
    values: np.ndarray  # per step: cumulative for counters, as observed for gauges


@dataclass
class Family:
    name: str  # the family name (counters without _total)
    kind: str  # counter, gauge, histogram
    series: list[Series] = field(default_factory=list)


def _erf(x: np.ndarray) -> np.ndarray:
    """Abramowitz and Stegun 7.1.26 (error under 1.5e-7): numpy has no erf."""
    sign = np.sign(x)
    x = np.abs(x)
    t = 1.0 / (1.0 + 0.3275911 * x)
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))))
    return sign * (1.0 - poly * np.exp(-x * x))


def lognormal_bucket_probs(median: np.ndarray, sigma: float, edges: tuple[float, ...]) -> np.ndarray:
    """(T, K) probability of each bucket (K = len(edges), the last +Inf) for a lognormal per step."""
    finite = np.array([e for e in edges if not math.isinf(e)])
    z = (np.log(finite)[None, :] - np.log(median)[:, None]) / (sigma * math.sqrt(2))
    cdf = np.concatenate([0.5 * (1 + _erf(z)), np.ones((len(median), 1))], axis=1)
    probs = np.diff(np.concatenate([np.zeros((len(median), 1)), cdf], axis=1), axis=1)
    probs = np.clip(probs, 0, None)
    return probs / probs.sum(axis=1, keepdims=True)


def representative(edges: tuple[float, ...]) -> np.ndarray:
    """A value for each bucket (what the observations in it add to _sum): its middle, 1.5x the last edge for +Inf."""
    out, low = [], 0.0
    for edge in edges:
        out.append(1.5 * low if math.isinf(edge) else (low + edge) / 2)
        low = edge if not math.isinf(edge) else low
    return np.array(out)


class History:
    """The per-step events of the plan (np arrays of length T, events in (t[i-1], t[i]]) and their series."""

    def __init__(self, plan: Plan, now: float | None = None):
        import time

        end = plan.end or int((now or time.time()) // STEP * STEP)
        self.plan = plan
        self.end = end
        self.start = end - plan.days * 86400
        self.times = np.arange(self.start + STEP, end + STEP, STEP, dtype=np.int64)
        self.rng = np.random.default_rng(plan.seed)
        t = self.times
        hours = (t % 86400) / 3600.0
        weekday = ((t // 86400) + 3) % 7  # 1970-01-01 was a Thursday: 0 is Monday
        # Quiet at 04:00 UTC, the peak at 15:00; weekends at 70 %.
        self.load = np.clip(0.5 - 0.5 * np.cos((hours - 3.0) / 24.0 * 2 * math.pi), 0, 1) ** 1.5
        self.traffic = (0.08 + 0.92 * self.load) * np.where(weekday >= 5, 0.7, 1.0)
        self.deploy_index = self._index(plan.deploy)
        self.outage = self._mask(plan.db_outage)
        self.slow = self._mask(plan.slow_queries)
        self.requests: dict[tuple[str, str], np.ndarray] = {}
        self.latency: dict[tuple[str, str], np.ndarray] = {}  # (T, K) bucket counts (not cumulative over le)
        self.latency_sum: dict[tuple[str, str], np.ndarray] = {}
        self.failed: dict[tuple[str, str], np.ndarray] = {}  # 500s of the view (database outage)
        self.errors: dict[tuple[str, str], np.ndarray] = {}  # (source, exception) -> per step, app or worker
        self._simulate()

    # --- time helpers ----------------------------------------------------------------------------
    def at(self, w: Window, minutes: float = 0) -> int:
        day = (self.end // 86400 - w.days_before_end) * 86400
        return int(day + w.hour * 3600 + w.minute * 60 + minutes * 60)

    def _index(self, w: Window) -> int:
        return int(np.searchsorted(self.times, self.at(w), side="right"))

    def _mask(self, w: Window) -> np.ndarray:
        return (self.times > self.at(w)) & (self.times <= self.at(w, w.minutes))

    def poisson(self, lam) -> np.ndarray:
        return self.rng.poisson(np.broadcast_to(lam, self.times.shape)).astype(np.int64)

    # --- the simulation ----------------------------------------------------------------------------
    def _simulate(self) -> None:
        p, T = self.plan, len(self.times)
        edges = spec.REQUEST_LATENCY_BUCKETS
        mids = representative(edges)
        db_views = 0
        for v in VIEWS:
            key = (v.view, v.method)
            n = self.poisson(v.per_minute * STEP / 60 * self.traffic)
            median = v.median_s * (1 + v.peak_slowdown * self.load)
            counts = self.rng.multinomial(n, lognormal_bucket_probs(median, v.sigma, edges))
            self.requests[key] = n
            self.latency[key] = counts
            self.latency_sum[key] = counts @ mids
            failed = np.zeros(T, dtype=np.int64)
            if v.queries:
                db_views += 1
                failed[self.outage] = self.rng.binomial(n[self.outage], p.db_outage_failing)
            self.failed[key] = failed
        s = SCRAPE_VIEW
        n = np.full(T, int(s.per_minute * STEP / 60), dtype=np.int64)
        self.requests[(s.view, s.method)] = n
        self.latency[(s.view, s.method)] = self.rng.multinomial(
            n, lognormal_bucket_probs(np.full(T, s.median_s), s.sigma, edges))
        self.latency_sum[(s.view, s.method)] = self.latency[(s.view, s.method)] @ mids
        self.failed[(s.view, s.method)] = np.zeros(T, dtype=np.int64)

        outage_500s = sum(self.failed.values())
        # Errors: what Sentry would capture.  Each request that failed in the outage once; the outage's first
        # ERROR log line once; a few a day otherwise.
        self.errors[("request", "OperationalError")] = outage_500s
        log_outage = np.zeros(T, dtype=np.int64)
        log_outage[np.argmax(self.outage)] = 1 if self.outage.any() else 0
        self.errors[("log", "OperationalError")] = log_outage
        self.errors[("request", "ValueError")] = self.poisson(3 / 1440 * STEP / 60 * 2 * self.traffic)
        self.errors[("request", "KeyError")] = self.poisson(1 / 1440 * STEP / 60 * 2 * self.traffic)
        self.errors[("log", "none")] = self.poisson(4 / 1440 * STEP / 60)
        # A bare 5xx: a response of one of the topic list's requests (never more than it had).
        room = self.requests[BARE_5XX_VIEW] - self.failed[BARE_5XX_VIEW]
        self.errors[("request", "none")] = np.minimum(self.poisson(1 / 1440 * STEP / 60 * 2 * self.traffic), room)

        # Celery: each enrolment sends two tasks; confirmations sometimes retry (SMTP), rarely fail for good.
        enrols = self.requests[("courses:course-enroll", "POST")]
        self.tasks_sent = {TASK_CONFIRM: enrols, TASK_STATS: enrols}
        retried = self.rng.binomial(enrols, 0.03)
        failed = self.rng.binomial(enrols, 0.004)
        self.tasks_retried = {TASK_CONFIRM: retried, TASK_STATS: np.zeros(T, dtype=np.int64)}
        self.tasks_failed = {TASK_CONFIRM: failed, TASK_STATS: np.zeros(T, dtype=np.int64)}
        self.tasks_started = {TASK_CONFIRM: enrols + retried, TASK_STATS: enrols}
        self.tasks_succeeded = {TASK_CONFIRM: enrols - failed, TASK_STATS: enrols}
        self.errors[("task", "SMTPException")] = failed
        runtime = {TASK_CONFIRM: (0.15, 0.5), TASK_STATS: (0.04, 0.4)}
        self.task_runtime = {task: self.rng.multinomial(self.tasks_started[task], lognormal_bucket_probs(
            np.full(T, med), sig, edges)) for task, (med, sig) in runtime.items()}
        self.task_runtime_sum = {task: c @ mids for task, c in self.task_runtime.items()}

        # Database: every request's queries (plus the tasks'), fast; the slow-query night adds seconds-long ones.
        db_edges = spec.DB_QUERY_BUCKETS
        queries = sum(self.requests[(v.view, v.method)] * v.queries for v in VIEWS) + 3 * enrols
        self.db_queries = self.rng.multinomial(queries, lognormal_bucket_probs(np.full(T, 0.0018), 0.9, db_edges))
        slow = np.zeros(T, dtype=np.int64)
        slow[self.slow] = self.poisson(p.slow_queries_per_minute * STEP / 60)[self.slow]
        slow_over = np.searchsorted(db_edges, spec.DB_SLOW_QUERY_SECONDS) + 1  # the bucket above the threshold
        self.db_queries[:, slow_over] += slow - slow // 3
        self.db_queries[:, slow_over + 1] += slow // 3
        self.db_slow = slow
        self.db_query_sum = self.db_queries @ representative(db_edges)
        self.db_errors = self.failed_total = outage_500s
        self.db_connections = self.poisson(6 / 60 * STEP / 60 * (0.2 + self.traffic))

        # Cache: reads per request by view, a hit ratio each; a miss is followed by a set.
        hits = np.zeros(T, dtype=np.int64)
        reads = np.zeros(T, dtype=np.int64)
        for v in VIEWS:
            r = self.requests[(v.view, v.method)] * v.cache_reads
            h = self.rng.binomial(r, v.hit_ratio)
            reads += r
            hits += h
        self.cache_hits, self.cache_misses = hits, reads - hits
        self.cache_deletes = enrols + self.requests[("forum:post-create", "POST")]
        self.security = {"csrf": self.poisson(2 / 1440 * STEP / 60),
                         "DisallowedHost": self.poisson(5 / 1440 * STEP / 60),
                         "SigninThrottled": self.poisson(3 / 1440 * STEP / 60 * 2 * self.traffic)}

    # --- what the review must find (tests compute expectations from these) -------------------------------
    def error_total(self) -> np.ndarray:
        return sum(self.errors.values())

    def responses_5xx(self) -> np.ndarray:
        return sum(self.failed[(v.view, v.method)] for v in VIEWS) + self.errors[("request", "none")]

    def responses(self) -> np.ndarray:
        return sum(self.requests[(v.view, v.method)] for v in VIEWS)

    def in_range(self, start: float, end: float) -> np.ndarray:
        """The steps whose events fall in (start, end]."""
        return (self.times > start) & (self.times <= end)

    # --- the series ------------------------------------------------------------------------------------
    def families(self) -> list[Family]:
        if not hasattr(self, "_families"):  # built once: the per-view draws come from the shared generator
            self._families = self._build_families()
        return self._families

    def _build_families(self) -> list[Family]:
        tg = self.plan.targets
        extra = dict(tg.labels)
        fams: dict[str, Family] = {}

        def add(name: str, kind: str, labels: dict, values: np.ndarray) -> None:
            fam = fams.setdefault(name, Family(name, kind))
            fam.series.append(Series(name, labels, values))

        def counter(metric: str, job_labels: dict, labels: dict, events: np.ndarray, share: float) -> None:
            add(metric.removesuffix("_total"), "counter", {**job_labels, **labels}, self.cumulative(events, share))

        def histogram(metric: str, job_labels: dict, labels: dict, buckets: np.ndarray, total: np.ndarray,
                      edges: tuple[float, ...], share: float) -> None:
            cum = np.cumsum(buckets, axis=1)
            for k, edge in enumerate(edges):
                add(metric, "histogram", {**job_labels, **labels, "le": le_label(edge)},
                    self.cumulative(cum[:, k], share))
            add(metric, "histogram", {**job_labels, **labels, "__suffix": "_sum"}, self.cumulative(total, share, 3))
            add(metric, "histogram", {**job_labels, **labels, "__suffix": "_count"},
                self.cumulative(cum[:, -1], share))

        apps = [{"job": contract.APP_JOB, "instance": i, **extra} for i in tg.app]
        workers = [{"job": contract.WORKER_JOB, "instance": i, **extra} for i in tg.worker]
        for group in (apps, workers):
            for jl in group:
                add("up", "gauge", jl, np.ones(len(self.times)))
                add(contract.PROCESS_START, "gauge", jl, self.start_times())
                release = np.arange(len(self.times)) >= self.deploy_index
                for r, mask in ((RELEASES[0], ~release), (RELEASES[1], release)):
                    if mask.any():
                        add(contract.BUILD_INFO, "gauge", {**jl, "release": r, "environment": ENVIRONMENT},
                            np.where(mask, 1.0, np.nan))
        for jl in apps:
            self._app_series(jl, 1 / len(apps), counter, histogram, add)
        for jl in workers:
            self._worker_series(jl, 1 / len(workers), counter, histogram)
        rl = {"job": "redis", "instance": tg.redis}
        add("up", "gauge", rl, np.ones(len(self.times)))
        add("redis_up", "gauge", rl, np.ones(len(self.times)))
        # Redis counts the broker's reads too: more hits than the app's cache alone.
        add("redis_keyspace_hits", "counter", rl, np.cumsum(self.cache_hits + 2 * self.requests[
            ("courses:course-enroll", "POST")]).astype(float))
        add("redis_keyspace_misses", "counter", rl, np.cumsum(self.cache_misses).astype(float))
        add("redis_commands_processed", "counter", rl, np.cumsum(
            self.cache_hits + 2 * self.cache_misses + 40 * STEP // 60).astype(float))
        add("redis_connected_clients", "gauge", rl, 8 + np.round(6 * self.traffic))
        return list(fams.values())

    def _app_series(self, jl, share, counter, histogram, add) -> None:
        edges = spec.REQUEST_LATENCY_BUCKETS
        for v in (*VIEWS, SCRAPE_VIEW):
            key = (v.view, v.method)
            vm = {"view": v.view, "method": v.method}
            histogram(contract.REQ_LATENCY, jl, vm, self.latency[key], self.latency_sum[key], edges, share)
            counter(contract.REQUESTS, jl, {"view": v.view, "transport": "http", "method": v.method},
                    self.requests[key], share)
            bare = self.errors[("request", "none")] if key == BARE_5XX_VIEW else 0  # a 500 no exception explains
            counter(contract.RESPONSES, jl, {"status": v.status, **vm}, self.requests[key] - self.failed[key] - bare,
                    share)
            if v.queries:  # created at zero at start (docs/metrics.md, Cardinality)
                counter(contract.RESPONSES, jl, {"status": "500", **vm}, self.failed[key] + bare, share)
            if v is SCRAPE_VIEW:
                continue
            n = self.requests[key]
            q = np.zeros((len(n), len(QUERY_COUNT_BUCKETS)), dtype=np.int64)
            q[:, int(np.searchsorted(QUERY_COUNT_BUCKETS, v.queries))] = n
            histogram(contract.REQUEST_QUERIES, jl, {"view": v.view}, q, n * v.queries, QUERY_COUNT_BUCKETS, share)
            db = self.rng.multinomial(n, lognormal_bucket_probs(
                np.full(len(n), 0.0015 * v.queries), 0.6, spec.DB_QUERY_BUCKETS))
            histogram(contract.REQUEST_DB_SECONDS, jl, {"view": v.view}, db, db @ representative(spec.DB_QUERY_BUCKETS),
                      spec.DB_QUERY_BUCKETS, share)
        for (source, exception), events in self.errors.items():
            if source != "task":
                counter(contract.ERRORS, jl, {"source": source, "exception": exception}, events, share)
        request_errors = sum(e for (s, _), e in self.errors.items() if s == "request")
        for country, weight in COUNTRIES:
            counter(contract.ERRORS_BY_COUNTRY, jl, {"country": country}, np.round(request_errors * weight), share)
        recent = np.convolve(request_errors, np.ones(max(1, 300 // STEP)), mode="full")[:len(request_errors)]
        add(contract.ERROR_USERS, "gauge", jl, np.ceil(recent * 0.8))
        counter(contract.EXCEPTIONS, jl, {"type": "OperationalError"}, self.errors[("request", "OperationalError")], share)
        counter(contract.EXCEPTIONS, jl, {"type": "ValueError"}, self.errors[("request", "ValueError")], share)
        counter(contract.EXCEPTIONS, jl, {"type": "KeyError"}, self.errors[("request", "KeyError")], share)
        for event, events in self.security.items():
            counter(contract.SECURITY_EVENTS, jl, {"event": event}, events, share)
        db = {"alias": "default", "vendor": "postgresql"}
        histogram(contract.DB_DURATION, jl, db, self.db_queries, self.db_query_sum, spec.DB_QUERY_BUCKETS, share)
        counter(contract.DB_EXECUTE, jl, db, self.db_queries.sum(axis=1), share)
        counter(contract.DB_ERRORS, jl, {**db, "type": "OperationalError"}, self.db_errors, share)
        counter(contract.DB_NEW_CONNECTIONS, jl, db, self.db_connections, share)
        counter(contract.CACHE_OPS, jl, {"operation": "get", "result": "hit"}, self.cache_hits, share)
        counter(contract.CACHE_OPS, jl, {"operation": "get", "result": "miss"}, self.cache_misses, share)
        counter(contract.CACHE_OPS, jl, {"operation": "set", "result": "set"}, self.cache_misses, share)
        counter(contract.CACHE_OPS, jl, {"operation": "delete", "result": "delete"}, self.cache_deletes, share)
        for task, events in self.tasks_sent.items():
            counter(contract.CELERY_SENT, jl, {"task": task}, events, share)
        counter(contract.ENROLLMENTS, jl, {}, self.requests[("courses:course-enroll", "POST")], share)
        counter(contract.FORUM_POSTS, jl, {}, self.requests[("forum:post-create", "POST")], share)
        waiting = self.rng.poisson(0.5 + 2 * self.traffic)
        add(contract.CELERY_QUEUE, "gauge", {**jl, "queue": "celery"}, waiting.astype(float))

    def _worker_series(self, jl, share, counter, histogram) -> None:
        for name, per_task in ((contract.CELERY_STARTED, self.tasks_started), (contract.CELERY_SUCCEEDED, self.tasks_succeeded),
                               (contract.CELERY_FAILED, self.tasks_failed), (contract.CELERY_RETRIED, self.tasks_retried)):
            for task, events in per_task.items():
                counter(name, jl, {"task": task}, events, share)
        for task, buckets in self.task_runtime.items():
            histogram(contract.CELERY_RUNTIME, jl, {"task": task}, buckets, self.task_runtime_sum[task],
                      spec.REQUEST_LATENCY_BUCKETS, share)
        counter(contract.ERRORS, jl, {"source": "task", "exception": "SMTPException"}, self.errors[("task", "SMTPException")],
                share)

    def start_times(self) -> np.ndarray:
        """process_start_time_seconds: the first process started a minute before the history, the deploy's at it."""
        out = np.full(len(self.times), float(self.start - STEP))
        out[self.deploy_index:] = float(self.at(self.plan.deploy))
        return out

    def cumulative(self, events: np.ndarray, share: float = 1.0, decimals: int = 0) -> np.ndarray:
        """A counter's values: the running total of `share` of the events, from zero again at the deploy."""
        events = np.asarray(events, dtype=float) * share
        if not decimals:
            events = np.floor(events + 0.5)
        total = np.cumsum(events)
        if 0 < self.deploy_index < len(total):
            total[self.deploy_index:] -= total[self.deploy_index - 1]
        return np.round(total, decimals) if decimals else total


def openmetrics(history: History) -> Iterator[str]:
    """The OpenMetrics text of the history, in chunks: every series' samples in time order, then # EOF."""
    stamps = [str(int(t)) for t in history.times]
    for fam in history.families():
        yield f"# TYPE {fam.name} {fam.kind}\n"
        for s in fam.series:
            labels = {k: v for k, v in s.labels.items() if k != "__suffix"}
            suffix = s.labels.get("__suffix") or ("_bucket" if "le" in labels else "")
            name = s.name + (suffix if fam.kind == "histogram" else "_total" if fam.kind == "counter" else "")
            inner = ",".join(f'{k}="{v}"' for k, v in labels.items())
            prefix = f"{name}{{{inner}}} "
            values = s.values
            finite = ~np.isnan(values)
            if np.all(values == np.round(values)):
                text = values.astype(np.int64).astype(str)
            else:
                text = np.char.mod("%.3f", values)
            yield "".join(f"{prefix}{v} {ts}\n" for v, ts, ok in zip(text, stamps, finite, strict=True) if ok)
    yield "# EOF\n"


def series_count(history: History) -> int:
    return sum(len(f.series) for f in history.families())
