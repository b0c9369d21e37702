"""Does the load generator see what Prometheus sees?  Counts and P95 per view, from /metrics deltas.

Plain Python (standard library only): used by the Locust harness and by the tests, never importing
Django or Locust.  The app's histogram is django-prometheus's
``django_http_requests_latency_seconds_by_view_method`` with the bucket edges of
``spec.REQUEST_LATENCY_BUCKETS``; its ``view`` label is the Django view label, which is also the
name of every Locust request, so the two line up row by row.

* Requests: Locust's count per name must equal the increase of ``..._count`` summed over methods.
* P95: Locust's P95 and the P95 of the bucket increases (``histogram_quantile`` style) must fall in
  the same bucket or in neighbouring ones.  Locust measures on the client (network, gunicorn and all
  middleware included), Prometheus inside the view, so Locust's is the higher of the two.
"""
from __future__ import annotations

import math
import re
import urllib.error
import urllib.request
from dataclasses import dataclass, field

from monitoring_spec import contract

HISTOGRAM = contract.REQ_LATENCY

_SAMPLE = re.compile(r'^(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(?P<labels>.*)\})?\s+(?P<value>\S+)(?:\s+\S+)?$')
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


class MetricsUnavailable(Exception):
    """/metrics could not be read (down, protected, not Prometheus text): the check is skipped."""


def _unescape(value: str) -> str:
    return value.replace(r"\"", '"').replace(r"\n", "\n").replace("\\\\", "\\")


def _float(text: str) -> float:
    return float(text)  # also reads "+Inf", "-Inf" and "NaN"


@dataclass
class Snapshot:
    """Per view: request count and cumulative bucket counts {le seconds: count}, summed over methods."""

    counts: dict[str, float] = field(default_factory=dict)
    buckets: dict[str, dict[float, float]] = field(default_factory=dict)

    def minus(self, earlier: Snapshot) -> Snapshot:
        out = Snapshot()
        for view, n in self.counts.items():
            out.counts[view] = n - earlier.counts.get(view, 0.0)
        for view, edges in self.buckets.items():
            before = earlier.buckets.get(view, {})
            out.buckets[view] = {le: n - before.get(le, 0.0) for le, n in edges.items()}
        return out


def parse_metrics(text: str, histogram: str = HISTOGRAM) -> Snapshot:
    snap = Snapshot()
    count_name, bucket_name = f"{histogram}_count", f"{histogram}_bucket"
    found = False
    for line in text.splitlines():
        if not line.startswith(histogram):
            continue
        m = _SAMPLE.match(line.strip())
        if not m or m["name"] not in (count_name, bucket_name):
            continue
        found = True
        labels = {k: _unescape(v) for k, v in _LABEL.findall(m["labels"] or "")}
        view = labels.get("view", "")
        value = _float(m["value"])
        if m["name"] == count_name:
            snap.counts[view] = snap.counts.get(view, 0.0) + value
        elif "le" in labels:
            le = _float(labels["le"])
            per_view = snap.buckets.setdefault(view, {})
            per_view[le] = per_view.get(le, 0.0) + value
    if not found and "# TYPE" not in text:
        raise MetricsUnavailable("the answer is not Prometheus text exposition")
    return snap


def fetch_metrics(url: str, token: str | None = None, timeout: float = 5.0) -> Snapshot:
    """Read and parse ``url``; a bearer ``token`` (METRICS_TOKEN) is sent when given."""
    headers = {"Accept": "text/plain"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=timeout) as resp:
            body = resp.read().decode("utf-8", errors="replace")
    except urllib.error.HTTPError as exc:
        hint = " (protected: set METRICS_TOKEN)" if exc.code in (401, 403) and not token else ""
        raise MetricsUnavailable(f"{url} answered HTTP {exc.code}{hint}") from None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise MetricsUnavailable(f"{url} unreachable: {reason}") from None
    return parse_metrics(body)


def histogram_quantile(q: float, buckets: dict[float, float]) -> tuple[float | None, int | None]:
    """(quantile in seconds, index of the bucket it falls in), as PromQL's histogram_quantile does it.

    Linear interpolation inside the bucket; a quantile in the +Inf bucket is the highest finite edge.
    """
    edges = sorted(buckets)
    if not edges or buckets[edges[-1]] <= 0:
        return None, None
    total = buckets[edges[-1]]
    rank = q * total
    lower_edge, lower_count = 0.0, 0.0
    for i, le in enumerate(edges):
        count = buckets[le]
        if count >= rank:
            if math.isinf(le):
                return (edges[i - 1] if i else 0.0), i
            if count == lower_count:
                return le, i
            return lower_edge + (le - lower_edge) * (rank - lower_count) / (count - lower_count), i
        lower_edge, lower_count = le, count
    return None, None


def bucket_index(seconds: float, edges) -> int:
    """Index of the bucket (edges ascending, the last +Inf) that ``seconds`` falls in: the first le >= it."""
    ordered = sorted(edges)
    for i, le in enumerate(ordered):
        if seconds <= le + 1e-12:
            return i
    return len(ordered) - 1


def bucket_label(index: int, edges) -> str:
    ordered = sorted(edges)
    low = 0.0 if index == 0 else ordered[index - 1]
    high = ordered[index]
    fmt = lambda s: "+Inf" if math.isinf(s) else f"{s * 1000:g}"
    return f"({fmt(low)}, {fmt(high)}] ms"


@dataclass
class FidelityRow:
    name: str
    locust_requests: int
    prometheus_requests: int
    locust_p95_ms: float | None = None
    prometheus_p95_ms: float | None = None
    locust_bucket: int | None = None
    prometheus_bucket: int | None = None
    bucket_text: str = ""

    @property
    def count_matches(self) -> bool:
        return self.locust_requests == self.prometheus_requests

    @property
    def p95_agrees(self) -> bool | None:
        if self.locust_bucket is None or self.prometheus_bucket is None:
            return None
        return abs(self.locust_bucket - self.prometheus_bucket) <= 1

    def to_dict(self) -> dict:
        return {"name": self.name, "locust_requests": self.locust_requests,
                "prometheus_requests": self.prometheus_requests, "count_matches": self.count_matches,
                "locust_p95_ms": self.locust_p95_ms,
                "prometheus_p95_ms": None if self.prometheus_p95_ms is None else round(self.prometheus_p95_ms, 2),
                "locust_bucket": self.locust_bucket, "prometheus_bucket": self.prometheus_bucket,
                "p95_within_one_bucket": self.p95_agrees, "buckets": self.bucket_text}


@dataclass
class FidelityReport:
    rows: list[FidelityRow] = field(default_factory=list)
    skipped: str | None = None
    note: str | None = None

    @property
    def counts_match(self) -> bool:
        return all(r.count_matches for r in self.rows)

    @property
    def p95_agree(self) -> bool:
        return all(r.p95_agrees is not False for r in self.rows)

    @property
    def ok(self) -> bool:
        return self.skipped is None and self.counts_match and self.p95_agree

    def line(self) -> str:
        if self.skipped is not None:
            return f"Fidelity: skipped ({self.skipped})"
        locust_total = sum(r.locust_requests for r in self.rows)
        prom_total = sum(r.prometheus_requests for r in self.rows)
        counts = ("exact match" if self.counts_match else
                  "MISMATCH in " + ", ".join(f"{r.name} {r.locust_requests} vs {r.prometheus_requests}"
                                             for r in self.rows if not r.count_matches))
        judged = [r for r in self.rows if r.p95_agrees is not None]
        off = [r for r in judged if not r.p95_agrees]
        p95 = (f"P95 within one bucket for {len(judged)}/{len(judged)} endpoints" if not off else
               "P95 MORE THAN ONE BUCKET APART for " + ", ".join(
                   f"{r.name} ({r.locust_p95_ms:g} vs {r.prometheus_p95_ms:.0f} ms)" for r in off))
        return (f"Fidelity: requests Locust {locust_total} / Prometheus {prom_total} over {len(self.rows)} views, "
                f"{counts}; {p95}" + (f" ({self.note})" if self.note else ""))

    def details(self) -> str:
        lines = []
        for r in self.rows:
            p95 = ""
            if r.p95_agrees is not None:
                p95 = (f"  P95 Locust {r.locust_p95_ms:g} ms / Prometheus {r.prometheus_p95_ms:.1f} ms"
                       f" [{r.bucket_text}]" + ("" if r.p95_agrees else "  <-- more than one bucket apart"))
            lines.append(f"  {r.name:<24} requests {r.locust_requests:>7} / {r.prometheus_requests:<7}"
                         f"{'' if r.count_matches else '  <-- MISMATCH'}{p95}")
        return "\n".join(lines)

    def to_dict(self) -> dict:
        return {"skipped": self.skipped, "counts_match": None if self.skipped else self.counts_match,
                "p95_within_one_bucket": None if self.skipped else self.p95_agree,
                "line": self.line(), "views": [r.to_dict() for r in self.rows]}


def compare(locust: dict[str, tuple[int, float | None]], delta: Snapshot, p95_views=()) -> FidelityReport:
    """``locust``: {request name: (requests, P95 ms)}; ``delta``: the /metrics increase over the run.

    Every Locust name is compared by count (a name with no series counts as 0 on the Prometheus side);
    P95 is compared for ``p95_views`` (the graded endpoints) when both sides have requests.
    """
    report = FidelityReport()
    for name in sorted(locust):
        requests, locust_p95 = locust[name]
        row = FidelityRow(name=name, locust_requests=int(requests),
                          prometheus_requests=round(delta.counts.get(name, 0.0)), locust_p95_ms=locust_p95)
        buckets = delta.buckets.get(name)
        if name in p95_views and buckets and locust_p95 is not None and requests:
            q, idx = histogram_quantile(0.95, buckets)
            if q is not None:
                row.prometheus_p95_ms = q * 1000
                row.prometheus_bucket = idx
                row.locust_bucket = bucket_index(locust_p95 / 1000, buckets)
                row.bucket_text = (f"Locust {bucket_label(row.locust_bucket, buckets)}, "
                                   f"Prometheus {bucket_label(idx, buckets)}")
        report.rows.append(row)
    return report
