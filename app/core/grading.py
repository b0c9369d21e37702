"""Grading latency measurements against the target table, for Locust and for ``manage.py benchmark``.

Plain Python: importable without Django and without Locust (the Locust process must not import
Django, and the Django/pytest process must not import Locust).  Every number it judges by comes
from the spec (``monitoring_spec``); this module only decides how to apply them:

* an endpoint's grade is ``spec.grade()`` of its **average** (the guide's table is of averages);
  P50, P95 and P99 are shown with the grade the same table would give them, for information;
* a load test passes when no endpoint's average *needs work*, no endpoint (and not the run as a
  whole) has more than ``MAX_FAILURE_RATIO`` failed requests, and the load generator raised no
  exceptions.
"""
from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import monitoring_spec as spec
from monitoring_spec import EXCELLENT, GRADES, MEETS_TARGET, NEEDS_WORK, OVER_TARGET, EndpointTarget

# Issue 9's pass criterion for failed requests.
MAX_FAILURE_RATIO = spec.LOADTEST_MAX_FAILURE_RATIO

GRADE_MARKS = {EXCELLENT: "E", MEETS_TARGET: "T", OVER_TARGET: "O", NEEDS_WORK: "N"}
MEETING_TARGET = (EXCELLENT, MEETS_TARGET)  # "still meets its target": the average is under target_ms
BASELINE_KIND = "python-learning-studio/benchmark"


def target_for(name: str) -> EndpointTarget | None:
    """The target row for a Django view label ("courses:course-list") or a target key ("course_list")."""
    return spec.TARGETS_BY_VIEW.get(name) or spec.TARGETS_BY_KEY.get(name)


def percentile(values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0..1) of raw samples: always one of the measured values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q * len(ordered)))
    return ordered[rank - 1]


@dataclass
class EndpointResult:
    """One endpoint's measurements, in milliseconds.  ``name`` is a view label or a target key."""

    name: str
    requests: int
    failures: int = 0
    avg_ms: float | None = None
    min_ms: float | None = None
    max_ms: float | None = None
    p50_ms: float | None = None
    p95_ms: float | None = None
    p99_ms: float | None = None
    rps: float | None = None
    method: str = "GET"
    path: str | None = None

    @classmethod
    def from_samples(cls, name: str, samples_ms: Sequence[float], failures: int = 0, **kw) -> EndpointResult:
        return cls(name=name, requests=len(samples_ms) + failures, failures=failures,
                   avg_ms=sum(samples_ms) / len(samples_ms) if samples_ms else None,
                   min_ms=min(samples_ms) if samples_ms else None, max_ms=max(samples_ms) if samples_ms else None,
                   p50_ms=percentile(samples_ms, 0.50), p95_ms=percentile(samples_ms, 0.95),
                   p99_ms=percentile(samples_ms, 0.99), **kw)

    @property
    def target(self) -> EndpointTarget | None:
        return target_for(self.name)

    @property
    def failure_ratio(self) -> float:
        return self.failures / self.requests if self.requests else 0.0

    def grade_of(self, value_ms: float | None) -> str | None:
        """What the target table says of one figure (None: no target for this endpoint, or no data)."""
        if self.target is None or value_ms is None:
            return None
        return spec.grade(self.target, value_ms)

    @property
    def grade(self) -> str | None:
        return self.grade_of(self.avg_ms)

    @property
    def meets_target(self) -> bool | None:
        return None if self.grade is None else self.grade in MEETING_TARGET

    def to_dict(self) -> dict:
        t = self.target
        return {
            "name": self.name, "method": self.method, "path": self.path,
            "endpoint": t.name if t else None, "target_key": t.key if t else None,
            "requests": self.requests, "failures": self.failures, "failure_ratio": round(self.failure_ratio, 6),
            "avg_ms": _round(self.avg_ms), "min_ms": _round(self.min_ms), "max_ms": _round(self.max_ms),
            "p50_ms": _round(self.p50_ms), "p95_ms": _round(self.p95_ms), "p99_ms": _round(self.p99_ms),
            "rps": _round(self.rps, 3),
            "excellent_ms": t.excellent_ms if t else None, "target_ms": t.target_ms if t else None,
            "needs_work_ms": t.needs_work_ms if t else None,
            "grade": self.grade,
            "grades": {"avg": self.grade, "p50": self.grade_of(self.p50_ms), "p95": self.grade_of(self.p95_ms),
                       "p99": self.grade_of(self.p99_ms)},
        }


def _round(value: float | None, digits: int = 2) -> float | None:
    return None if value is None else round(value, digits)


@dataclass
class GradeReport:
    rows: list[EndpointResult]
    total_requests: int
    total_failures: int
    exceptions: int = 0
    reasons: list[str] = field(default_factory=list)
    meta: dict = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return not self.reasons

    @property
    def exit_code(self) -> int:
        return 0 if self.passed else 1

    @property
    def failure_ratio(self) -> float:
        return self.total_failures / self.total_requests if self.total_requests else 0.0

    def to_dict(self) -> dict:
        return {
            "passed": self.passed, "exit_code": self.exit_code, "reasons": self.reasons,
            "total_requests": self.total_requests, "total_failures": self.total_failures,
            "failure_ratio": round(self.failure_ratio, 6), "max_failure_ratio": MAX_FAILURE_RATIO,
            "exceptions": self.exceptions,
            "endpoints": [r.to_dict() for r in self.rows],
            **self.meta,
        }


def grade_run(rows: Iterable[EndpointResult], *, exceptions: int = 0,
              expected: Iterable[str] = (), max_failure_ratio: float = MAX_FAILURE_RATIO) -> GradeReport:
    """Grade a load test's per-endpoint results.

    ``expected`` names (view labels) get a row even when no request reached them, so the table always
    shows every endpoint of the target table.  Rows are ordered: the target table first, then the rest.
    """
    by_name = {r.name: r for r in rows}
    for name in expected:
        by_name.setdefault(name, EndpointResult(name=name, requests=0))
    order = {view: i for i, view in enumerate(v for t in spec.TARGETS for v in t.views)}
    ordered = sorted(by_name.values(), key=lambda r: (order.get(r.name, len(order)), r.name))
    total = sum(r.requests for r in ordered)
    failed = sum(r.failures for r in ordered)
    reasons = []
    for r in ordered:
        if r.grade == NEEDS_WORK:
            reasons.append(f"{r.name} needs work: average {r.avg_ms:.0f} ms > {r.target.needs_work_ms} ms")
        if r.requests and r.failure_ratio > max_failure_ratio:
            reasons.append(f"{r.name}: {r.failures} of {r.requests} requests failed "
                           f"({r.failure_ratio:.1%} > {max_failure_ratio:.0%})")
    if total and failed / total > max_failure_ratio:
        reasons.append(f"{failed} of {total} requests failed ({failed / total:.1%} > {max_failure_ratio:.0%})")
    if exceptions:
        reasons.append(f"the load test raised {exceptions} exception(s) (see Locust's error report)")
    return GradeReport(rows=ordered, total_requests=total, total_failures=failed, exceptions=exceptions,
                       reasons=reasons)


# --------------------------------------------------------------------------------------------
# Rendering
# --------------------------------------------------------------------------------------------

def format_table(headers: Sequence[str], rows: Sequence[Sequence[str]], right: Iterable[int] = ()) -> str:
    right = set(right)
    widths = [max(len(str(h)), *(len(str(row[i])) for row in rows)) if rows else len(str(h))
              for i, h in enumerate(headers)]

    def line(cells):
        return "  ".join(str(c).rjust(w) if i in right else str(c).ljust(w)
                         for i, (c, w) in enumerate(zip(cells, widths, strict=True))).rstrip()

    return "\n".join([line(headers), line(["-" * w for w in widths]), *(line(r) for r in rows)])


def _ms(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.1f}" if value < 10 else f"{value:.0f}"


def _graded(row: EndpointResult, value: float | None) -> str:
    grade = row.grade_of(value)
    return _ms(value) + (f" {GRADE_MARKS[grade]}" if grade else "")


def _target_cell(t: EndpointTarget | None) -> str:
    return f"<{t.target_ms}" if t else "-"


def legend() -> str:
    return ("grades from monitoring_spec, judged on the average: "
            + ", ".join(f"{GRADE_MARKS[g]} = {g}" for g in GRADES)
            + "; percentiles are marked with the grade the same table would give them")


def render_load_table(report: GradeReport, title: str = "Graded results") -> str:
    headers = ["endpoint (view)", "target ms", "requests", "fail %", "avg", "P50", "P95", "P99", "req/s", "grade"]
    rows = []
    for r in report.rows:
        rows.append([r.name, _target_cell(r.target), str(r.requests),
                     f"{100 * r.failure_ratio:.2f}" if r.requests else "-",
                     _graded(r, r.avg_ms), _graded(r, r.p50_ms), _graded(r, r.p95_ms), _graded(r, r.p99_ms),
                     "-" if r.rps is None else f"{r.rps:.2f}",
                     r.grade or ("no data" if r.target and not r.requests else "no target")])
    out = [f"{title} (ms)", format_table(headers, rows, right=range(1, 9)), legend()]
    verdict = "PASS" if report.passed else "FAIL"
    detail = "; ".join(report.reasons) if report.reasons else (
        f"no endpoint needs work; {report.total_failures} of {report.total_requests} requests failed "
        f"({report.failure_ratio:.2%} <= {MAX_FAILURE_RATIO:.0%})")
    out.append(f"Result: {verdict} ({detail})")
    return "\n".join(out)


def render_benchmark_table(rows: Sequence[EndpointResult], title: str = "Benchmark") -> str:
    headers = ["endpoint", "path", "n", "avg ms", "min", "max", "P95", "target", "excellent", "needs work",
               "grade"]
    body = []
    for r in rows:
        t = r.target
        body.append([t.name if t else r.name, r.path or "-", str(r.requests), _ms(r.avg_ms), _ms(r.min_ms),
                     _ms(r.max_ms), _graded(r, r.p95_ms), _target_cell(t), f"<{t.excellent_ms}" if t else "-",
                     f">{t.needs_work_ms}" if t else "-", r.grade or "-"])
    return "\n".join([title, format_table(headers, body, right=range(2, 10)), legend()])


def report_csv(report: GradeReport) -> str:
    columns = ["name", "endpoint", "method", "requests", "failures", "failure_ratio", "avg_ms", "p50_ms", "p95_ms",
               "p99_ms", "min_ms", "max_ms", "rps", "excellent_ms", "target_ms", "needs_work_ms", "grade"]
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for r in report.rows:
        writer.writerow(r.to_dict())
    return buf.getvalue()


def write_reports(report: GradeReport, directory: str | Path, stem: str = "grades",
                  table: str | None = None) -> dict[str, Path]:
    """Write <stem>.json, <stem>.csv and <stem>.txt (the printed table) into ``directory``."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    paths = {"json": directory / f"{stem}.json", "csv": directory / f"{stem}.csv", "txt": directory / f"{stem}.txt"}
    paths["json"].write_text(json.dumps(report.to_dict(), indent=2, sort_keys=False) + "\n")
    paths["csv"].write_text(report_csv(report))
    paths["txt"].write_text((table or render_load_table(report)) + "\n")
    return paths


# --------------------------------------------------------------------------------------------
# Benchmark baselines (manage.py benchmark --output / --compare)
# --------------------------------------------------------------------------------------------

class BaselineError(ValueError):
    """The file is not a benchmark baseline written by --output."""


def baseline_dict(rows: Sequence[EndpointResult], **meta) -> dict:
    results = {}
    for r in rows:
        key = r.target.key if r.target else r.name
        results[key] = r.to_dict()
    return {"kind": BASELINE_KIND, "version": 1, **meta, "results": results}


def validate_baseline(data) -> dict:
    if not isinstance(data, dict) or not isinstance(data.get("results"), dict) or not data["results"]:
        raise BaselineError("no 'results' object (was it written by `manage.py benchmark --output`?)")
    for key, row in data["results"].items():
        if not isinstance(row, dict) or not isinstance(row.get("avg_ms"), (int, float)) \
                or isinstance(row.get("avg_ms"), bool):
            raise BaselineError(f"result '{key}' has no numeric avg_ms")
    return data


def compare_baselines(before: dict, after: dict) -> str:
    """A table of the change per endpoint from an earlier baseline to the current one."""
    headers = ["endpoint", "avg before", "avg now", "change", "P95 before", "P95 now", "grade before",
               "grade now", ""]
    rows = []
    for key, now in after["results"].items():
        old = before["results"].get(key)
        name = now.get("endpoint") or key
        if old is None:
            rows.append([name, "-", _ms(now["avg_ms"]), "new", "-", _ms(now.get("p95_ms")), "-",
                         now.get("grade") or "-", ""])
            continue
        change = (now["avg_ms"] - old["avg_ms"]) / old["avg_ms"] * 100 if old["avg_ms"] else 0.0
        verdict = "slower" if change > 0 else "faster" if change < 0 else "same"
        if now.get("grade") != old.get("grade"):
            verdict += " (grade changed)"
        rows.append([name, _ms(old["avg_ms"]), _ms(now["avg_ms"]), f"{change:+.1f}%",
                     _ms(old.get("p95_ms")), _ms(now.get("p95_ms")), old.get("grade") or "-",
                     now.get("grade") or "-", verdict])
    for key, old in before["results"].items():
        if key not in after["results"]:
            rows.append([old.get("endpoint") or key, _ms(old["avg_ms"]), "-", "gone", _ms(old.get("p95_ms")), "-",
                         old.get("grade") or "-", "-", ""])
    when = before.get("created_at", "an earlier run")
    return "\n".join([f"Change against the baseline of {when} (ms)", format_table(headers, rows, right=range(1, 6))])
