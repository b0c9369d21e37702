"""What the weekly review reads from Prometheus: one function per section of the guide's post-launch checklist.

Counts are exact where the rules record them exactly (prometheus/rulesets/exact.py: the sum of each target's
increments, robust to restarts): errors, 5xx and all responses, GET requests and those within target, slow
queries, cache reads and hits.  What the rules do not count (errors by exception type, P95s) comes from the
raw counters with increase(), as the dashboards do.
"""
from __future__ import annotations

import base64
import json
import math
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field

import monitoring_spec as spec
from monitoring_spec import contract
from monitoring_spec.promql import num, sel, user_traffic, views_matcher
from monitoring_spec.recorded import Names
from prometheus.rulesets.exact import just_under
from prometheus.rulesets.recording import Counted

DAY = 86400
WEEK = 7 * DAY


class Unreachable(RuntimeError):
    pass


class QueryFailed(RuntimeError):
    pass


class Client:
    def __init__(self, url: str, timeout: float = 60, auth: tuple[str, str] | None = None):
        self.url, self.timeout = url.rstrip("/"), timeout
        # The long-term store may want basic auth (LONG_TERM_PASSWORD_FILE); Prometheus here does not.
        self.headers = {"Authorization": "Basic " + base64.b64encode(":".join(auth).encode()).decode()} if auth else {}

    def query(self, expr: str, at: float) -> list[dict]:
        params = urllib.parse.urlencode({"query": expr, "time": f"{at:.3f}"})
        request = urllib.request.Request(f"{self.url}/api/v1/query?{params}", headers=self.headers)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as resp:
                body = json.load(resp)
        except urllib.error.HTTPError as exc:
            raise QueryFailed(f"{expr}: {exc.read().decode(errors='replace')[:300]}") from None
        except (OSError, ValueError) as exc:
            raise Unreachable(str(getattr(exc, "reason", exc))) from None
        if body.get("status") != "success":
            raise QueryFailed(f"{expr}: {body}")
        return body["data"]["result"]

    def scalar(self, expr: str, at: float) -> float | None:
        """The value of a one-element vector; None when empty or NaN."""
        result = self.query(expr, at)
        if not result:
            return None
        value = float(result[0]["value"][1])
        return None if math.isnan(value) else value

    def ready(self) -> None:
        try:
            with urllib.request.urlopen(f"{self.url}/-/ready", timeout=10):
                return
        except urllib.error.HTTPError as exc:
            raise Unreachable(f"HTTP {exc.code} from /-/ready") from None
        except (OSError, ValueError) as exc:
            raise Unreachable(str(getattr(exc, "reason", exc))) from None


def window(seconds: int) -> str:
    """A range (t - seconds, t]: the increments at exactly t - seconds belong to the period before."""
    return just_under(f"{seconds}s")


def counted(quantity, seconds: int, by: str = "", matchers: str = "") -> str:
    grouping = f" by ({by})" if by else ""
    return f"sum{grouping} (sum_over_time({quantity.increments}{matchers}[{window(seconds)}]))"


@dataclass
class Day:
    start: float
    end: float
    value: float | None  # None: no data for that day


def daily(client: Client, expr: str, start: float, end: float, offset: int = 0) -> list[Day]:
    """expr (a count over one day, `(t - 1d, t]`) at the end of each day of [start, end], `offset` seconds earlier."""
    out, t = [], start
    while t < end - 1:
        stop = min(end, t + DAY)
        out.append(Day(t - offset, stop - offset, client.scalar(expr.replace("@DAY@", window(int(stop - t))),
                                                                stop - offset)))
        t = stop
    return out


@dataclass
class Section:
    key: str
    title: str
    data: dict = field(default_factory=dict)
    empty: bool = False
    why_empty: str = ""


class Review:
    """Every section's figures for the period (start, end]."""

    def __init__(self, client: Client, start: float, end: float):
        self.client, self.start, self.end = client, start, end
        self.seconds = int(round(end - start))
        self.counted = Counted(spec)

    def sections(self) -> list[Section]:
        return [self.errors(), self.error_types(), self.endpoints(), self.slowest_views(), self.slow_queries(),
                self.cache(), self.slo(), self.alerts()]

    # --- errors -----------------------------------------------------------------------------------------
    def errors(self) -> Section:
        expr = f"sum(sum_over_time({self.counted.errors.increments}[@DAY@]))"
        this = daily(self.client, expr, self.start, self.end)
        last = daily(self.client, expr, self.start, self.end, offset=WEEK)
        both = [(a.value, b.value) for a, b in zip(this, last, strict=True) if a.value is not None and b.value is not None]
        total_this = sum(d.value for d in this if d.value is not None)
        change = None
        if both and sum(b for _, b in both):
            change = sum(a for a, _ in both) / sum(b for _, b in both) - 1
        return Section("errors", "Error trend: this week against last week", {
            "this": this, "last": last, "total": total_this, "comparable_days": len(both),
            "this_comparable": sum(a for a, _ in both), "last_comparable": sum(b for _, b in both), "change": change,
        }, empty=all(d.value is None for d in this), why_empty="no recorded error counts in the period")

    def error_types(self) -> Section:
        result = self.client.query(
            f"sort_desc(sum by (exception, source) (increase({contract.ERRORS}[{self.seconds}s])) > 0)", self.end)
        rows = [(r["metric"].get("exception", ""), r["metric"].get("source", ""), float(r["value"][1])) for r in result]
        by_type: dict[str, float] = {}
        for exception, _, value in rows:
            by_type[exception] = by_type.get(exception, 0) + value
        top = sorted(by_type.items(), key=lambda kv: -kv[1])[:10]
        return Section("error_types", "Top error types", {"top": top, "rows": rows},
                       empty=not top, why_empty="no errors counted in the period")

    # --- latency ----------------------------------------------------------------------------------------
    def endpoints(self) -> Section:
        c, rows = self.counted, []
        for target in spec.TARGETS:
            m = f'{{endpoint="{target.key}"}}'
            seconds = self.client.scalar(counted(c.get_seconds[0], self.seconds, matchers=m), self.end)
            requests = self.client.scalar(counted(c.get_requests[0], self.seconds, matchers=m), self.end)
            within = self.client.scalar(counted(c.get_within_target[0], self.seconds, matchers=m), self.end)
            bucket = sel(contract.REQ_LATENCY + "_bucket", views_matcher(target.views), 'method="GET"')
            p95 = self.client.scalar(
                f"histogram_quantile({num(spec.SLOW_TRANSACTION_QUANTILE)}, sum by (le) (increase({bucket}[{self.seconds}s])))",
                self.end)
            avg = seconds / requests if seconds is not None and requests else None
            rows.append({"target": target, "requests": requests, "avg": avg, "p95": p95,
                         "within": within / requests if within is not None and requests else None,
                         "grade": target.grade(avg * 1000) if avg is not None else None})
        return Section("endpoints", "Endpoints against the target table", {"rows": rows},
                       empty=all(r["requests"] in (None, 0) for r in rows), why_empty="no GET requests counted")

    def slowest_views(self) -> Section:
        bucket = sel(contract.REQ_LATENCY + "_bucket", user_traffic())
        q = num(spec.SLOW_TRANSACTION_QUANTILE)
        result = self.client.query(
            f"topk(5, histogram_quantile({q}, sum by (le, view) (increase({bucket}[{self.seconds}s]))))", self.end)
        views = []
        for r in sorted(result, key=lambda r: -float(r["value"][1])):
            view = r["metric"].get("view", "")
            p95 = float(r["value"][1])
            if math.isnan(p95):
                continue
            matcher = f'view="{view}"'
            avg = self.client.scalar(
                f"sum(increase({contract.REQ_LATENCY}_sum{{{matcher}}}[{self.seconds}s])) / "
                f"sum(increase({contract.REQ_LATENCY}_count{{{matcher}}}[{self.seconds}s]))", self.end)
            count = self.client.scalar(f"sum(increase({contract.REQ_LATENCY}_count{{{matcher}}}[{self.seconds}s]))",
                                       self.end)
            views.append({"view": view, "p95": p95, "avg": avg, "requests": count})
        return Section("slowest_views", "Slowest views (top 5 by P95)", {"views": views},
                       empty=not views, why_empty="no requests in the period")

    # --- database and cache -----------------------------------------------------------------------------
    def slow_queries(self) -> Section:
        c = self.counted
        days = daily(self.client, f"sum(sum_over_time({c.db_slow.increments}[@DAY@]))", self.start, self.end)
        total = self.client.scalar(counted(c.db_slow, self.seconds), self.end)
        queries = self.client.scalar(f"sum(increase({contract.DB_EXECUTE}[{self.seconds}s]))", self.end)
        p95 = self.client.scalar(
            f"histogram_quantile({num(spec.SLOW_TRANSACTION_QUANTILE)}, sum by (le) "
            f"(increase({contract.DB_DURATION}_bucket[{self.seconds}s])))", self.end)
        by_view = self.client.query(
            f"topk(5, sum by (view) (increase({contract.REQUEST_DB_SECONDS}_sum{{{user_traffic()}}}[{self.seconds}s])) / "
            f"sum by (view) (increase({contract.REQUEST_DB_SECONDS}_count{{{user_traffic()}}}[{self.seconds}s])))",
            self.end)
        views = sorted(((r["metric"].get("view", ""), float(r["value"][1])) for r in by_view
                        if not math.isnan(float(r["value"][1]))), key=lambda kv: -kv[1])
        return Section("slow_queries", f"Slow queries (over {num(spec.DB_SLOW_QUERY_SECONDS * 1000)} ms)", {
            "days": days, "total": total, "queries": queries, "p95": p95, "db_time_by_view": views,
        }, empty=total is None and queries is None, why_empty="no database metrics in the period")

    def cache(self) -> Section:
        c = self.counted
        hits = daily(self.client, f"sum(sum_over_time({c.cache_hits.increments}[@DAY@]))", self.start, self.end)
        reads = daily(self.client, f"sum(sum_over_time({c.cache_reads.increments}[@DAY@]))", self.start, self.end)
        days = [Day(h.start, h.end, h.value / r.value if h.value is not None and r.value else None)
                for h, r in zip(hits, reads, strict=True)]
        total_hits = sum(d.value or 0 for d in hits)
        total_reads = sum(d.value or 0 for d in reads)
        return Section("cache", "Cache hit ratio", {
            "days": days, "hits": total_hits, "reads": total_reads,
            "ratio": total_hits / total_reads if total_reads else None, "floor": spec.CACHE_HIT_RATIO_FLOOR,
        }, empty=not total_reads, why_empty="no cache reads counted in the period")

    # --- SLOs and alerts --------------------------------------------------------------------------------
    def slo(self) -> Section:
        c, out = self.counted, []
        period = int(_seconds(spec.SLO_PERIOD))
        for label, seconds in (("review period", self.seconds), (f"SLO period ({spec.SLO_PERIOD})", period)):
            bad = self.client.scalar(counted(c.responses_5xx, seconds), self.end)
            total = self.client.scalar(counted(c.responses, seconds), self.end)
            out.append(budget("availability", label, spec.SLO_AVAILABILITY_OBJECTIVE, bad or 0, total))
            for target in spec.TARGETS:
                m = f'{{endpoint="{target.key}"}}'
                total = self.client.scalar(counted(c.get_requests[0], seconds, matchers=m), self.end)
                within = self.client.scalar(counted(c.get_within_target[0], seconds, matchers=m), self.end)
                bad = total - within if total is not None and within is not None else None
                out.append(budget(f"latency {target.key}", label, spec.SLO_LATENCY_OBJECTIVE, bad, total))
        since = self.client.scalar(f"min(min_over_time(timestamp({c.responses.increments})[{period}s:1h]))", self.end)
        daily_burn = daily(self.client, f"{Names.slo_availability('1d')}", self.start, self.end)
        return Section("slo", "SLO error budget left", {"rows": out, "data_since": since, "availability_1d": daily_burn},
                       empty=all(r["total"] in (None, 0) for r in out), why_empty="no responses counted")

    def alerts(self) -> Section:
        result = self.client.query(f'ALERTS{{alertstate="firing"}}[{self.seconds}s]', self.end)
        fired, heartbeat = [], []
        for series in result:
            labels = series["metric"]
            stamps = [float(ts) for ts, _ in series["values"]]
            episodes = split_episodes(stamps)
            row = {"alertname": labels.get("alertname", ""), "severity": labels.get("severity", ""),
                   "labels": {k: v for k, v in labels.items() if k not in (
                       "__name__", "alertname", "alertstate", "severity", "channels")},
                   "first": stamps[0], "last": stamps[-1], "episodes": len(episodes),
                   "firing_s": sum(e[1] - e[0] + e[2] for e in episodes)}
            (heartbeat if row["severity"] == "none" else fired).append(row)
        fired.sort(key=lambda r: r["first"])
        return Section("alerts", "Alerts fired", {"fired": fired, "heartbeat": heartbeat},
                       empty=not fired and not heartbeat, why_empty="no ALERTS series in the period")


def split_episodes(stamps: list[float]) -> list[tuple[float, float, float]]:
    """(first, last, interval) of each run of a firing alert's samples: a gap of more than three evaluation
    intervals (the median gap between samples) starts a new one."""
    if not stamps:
        return []
    gaps = sorted(b - a for a, b in zip(stamps, stamps[1:], strict=False))
    interval = gaps[len(gaps) // 2] if gaps else 0
    out, first = [], stamps[0]
    for a, b in zip(stamps, stamps[1:], strict=False):
        if b - a > 3 * interval:
            out.append((first, a, interval))
            first = b
    out.append((first, stamps[-1], interval))
    return out


def budget(sli: str, over: str, objective: float, bad: float | None, total: float | None) -> dict:
    allowed = 1 - objective
    ratio = bad / total if bad is not None and total else None
    spent = ratio / allowed if ratio is not None else None
    return {"sli": sli, "over": over, "objective": objective, "bad": bad, "total": total, "ratio": ratio,
            "spent": spent, "left": 1 - spent if spent is not None else None}


def _seconds(duration: str) -> int:
    from monitoring_spec.promql import duration_seconds

    return duration_seconds(duration)
