"""Issue 17 part 6: the weekly review (stack/review/) on two weeks of backfilled history in a real Prometheus.

The history (stack/history.py) is turned into blocks by promtool, the recording rules and alerts are evaluated
over it (stack/backfill.py), and a Prometheus on a free port serves the result.  Every figure the review prints
is compared with what the generator's own per-step events say it must be (exact counts where the rules count
exactly, the P95 within its histogram bucket), and the dashboards' day- and week-over-week queries, which a fresh
Prometheus cannot answer (tests/test_dashboards_live.py ALLOWED_EMPTY), answer here.
"""
from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tempfile
import urllib.parse
import urllib.request
from datetime import UTC
from pathlib import Path

import numpy as np
import pytest

import monitoring_spec as spec
from monitoring_spec import contract
from stack import backfill
from stack import history as hist
from stack.review.data import DAY, WEEK
from tests.fixtures.backfill import backfilled
from tests.fixtures.dashboards import substitute
from tests.fixtures.servers import PROJECT_DIR, free_port

pytestmark = pytest.mark.slow

DAYS = 15  # this week and a whole week before it


@pytest.fixture(scope="module")
def served():
    """(history, Prometheus URL) of a Prometheus serving the backfilled history."""
    history, blocks, timing = backfilled(DAYS)
    print(f"\nbackfill: {timing.summary()}")
    work = Path(tempfile.mkdtemp(prefix="test-review-"))
    backfill.copy_blocks(blocks, work / "data")
    prom = backfill.PrivatePrometheus(work / "data", work).start()
    try:
        yield history, prom.url
    finally:
        prom.stop()
        shutil.rmtree(work, ignore_errors=True)


def run_review(url: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "stack.review", "--prometheus", url, *args],
                          capture_output=True, text=True, cwd=PROJECT_DIR, timeout=300)


@pytest.fixture(scope="module")
def review(served, tmp_path_factory):
    history, url = served
    out = tmp_path_factory.mktemp("review")
    start = history.end - WEEK
    result = run_review(url, "--from", str(start), "--to", str(history.end), "--out", str(out))
    assert result.returncode == 0, result.stdout + result.stderr
    return history, start, out, (out / "review.md").read_text(), result.stdout


def section(md: str, heading: str) -> str:
    m = re.search(rf"^## {re.escape(heading)}.*?$(.*?)(?=^## |\Z)", md, re.S | re.M)
    assert m, f"no section {heading!r} in:\n{md[:2000]}"
    return m.group(1)


def table(text: str) -> list[list[str]]:
    rows = [[c.strip() for c in line.strip().strip("|").split("|")] for line in text.splitlines()
            if line.startswith("|")]
    return [r for r in rows[2:]]  # without the header and its rule


def number(cell: str) -> float | None:
    cell = cell.replace("*", "").replace(",", "").strip()
    if cell in ("no data", "n/a"):
        return None
    return float(re.match(r"-?[\d.]+", cell).group(0))


def days_of(start: int, history: hist.History, offset: int = 0) -> list[tuple[int, int]]:
    return [(start + k * DAY - offset, start + (k + 1) * DAY - offset) for k in range(WEEK // DAY)]


def total(history: hist.History, events: np.ndarray, a: float, b: float) -> int:
    return int(events[history.in_range(a, b)].sum())


def p95_bucket(counts: np.ndarray) -> tuple[float, float]:
    """(lower, upper] edges of the bucket holding the 95th percentile of per-bucket counts."""
    edges = spec.REQUEST_LATENCY_BUCKETS
    cum = np.cumsum(counts)
    k = int(np.searchsorted(cum, spec.SLOW_TRANSACTION_QUANTILE * cum[-1]))
    return (edges[k - 1] if k else 0.0), edges[k]


def test_every_section_has_data_and_the_charts_exist(review):
    _, _, out, md, stdout = review
    assert "sections with no data: none" in stdout
    assert "**No data**" not in md
    for heading in ("Error trend", "Top error types", "Endpoints against the target table", "Slowest views",
                    "Slow queries", "Cache hit ratio", "SLO error budget left", "Alerts fired"):
        assert f"## {heading}" in md
    images = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", md)
    assert len(images) >= 8
    for image in images:
        assert (out / image).read_bytes()[:4] == b"\x89PNG", image


def test_error_trend_is_the_generated_count_per_day_this_week_and_last(review):
    history, start, _, md, _ = review
    rows = table(section(md, "Error trend"))
    errors = history.error_total()
    this = [total(history, errors, a, b) for a, b in days_of(start, history)]
    last = [total(history, errors, a, b) for a, b in days_of(start, history, offset=WEEK)]
    assert [number(r[1]) for r in rows] == this
    assert [number(r[2]) for r in rows] == last
    change = sum(this) / sum(last) - 1
    assert f"({change * 100:+.0f}%)" in section(md, "Error trend")
    assert sum(this) > 2 * sum(last), "the outage is this week: week over week must show it"


def test_top_error_types_are_the_generated_ones(review):
    history, start, _, md, _ = review
    rows = table(section(md, "Top error types"))
    expected: dict[str, int] = {}
    for (_, exception), events in history.errors.items():
        expected[exception] = expected.get(exception, 0) + total(history, events, start, history.end)
    expected = {k: v for k, v in expected.items() if v}
    assert rows[0][0] == f"`{max(expected, key=expected.get)}`"
    got = {r[0].strip("`"): number(r[1]) for r in rows}
    assert got.keys() == expected.keys()
    for exception, value in expected.items():  # increase() over a week extrapolates by a step at most
        assert got[exception] == pytest.approx(value, rel=0.01, abs=1), exception


def test_endpoints_against_the_target_table(review):
    history, start, _, md, _ = review
    rows = {r[0]: r for r in table(section(md, "Endpoints against the target table"))}
    mask = history.in_range(start, history.end)
    for target in spec.TARGETS:
        keys = [(v, "GET") for v in target.views if (v, "GET") in history.requests]
        requests = sum(int(history.requests[k][mask].sum()) for k in keys)
        seconds = sum(float(history.latency_sum[k][mask].sum()) for k in keys)
        counts = sum(history.latency[k][mask].sum(axis=0) for k in keys)
        lower, upper = p95_bucket(counts)
        row = rows[target.name]
        assert number(row[1]) == requests
        avg = seconds / requests
        assert number(row[2]) == pytest.approx(avg * 1000, abs=1)
        assert lower * 1000 - 1 <= number(row[3]) <= upper * 1000 + 1, (target.name, lower, upper, row[3])
        assert row[6] == target.grade(avg * 1000)
        assert row[7] == ("pass" if avg * 1000 < target.target_ms else "**FAIL**")
        within_target = upper <= target.target_ms / 1000
        assert row[8] == ("within" if within_target else "**over target**"), target.name
    assert any(r[8] == "**over target**" for r in rows.values()), "the generator makes one endpoint slower"


def test_slowest_views_lead_with_the_slowest_generated_view(review):
    history, start, _, md, _ = review
    rows = table(section(md, "Slowest views"))
    mask = history.in_range(start, history.end)
    probes = set(contract.PROBE_VIEWS)
    uppers = {}
    for (view, _), counts in history.latency.items():
        if view not in probes:
            uppers[view] = max(uppers.get(view, 0), p95_bucket(counts[mask].sum(axis=0))[1])
    assert len(rows) == 5
    assert rows[0][0].strip("`") in {v for v, u in uppers.items() if u == max(uppers.values())}


def test_slow_queries_cache_and_slo_budget_are_the_generated_counts(review):
    history, start, _, md, _ = review
    end = history.end
    slow = section(md, "Slow queries")
    assert f"**{total(history, history.db_slow, start, end):,} slow queries**" in slow
    per_day = [number(r[1]) for r in table(slow.split("Database time")[0])]
    assert per_day == [total(history, history.db_slow, a, b) for a, b in days_of(start, history)]

    hits, reads = total(history, history.cache_hits, start, end), 0
    reads = hits + total(history, history.cache_misses, start, end)
    assert f"**{hits / reads * 100:.1f}%** of {reads:,} cache reads" in section(md, "Cache hit ratio")

    rows = table(section(md, "SLO error budget left"))
    availability = next(r for r in rows if r[0] == "availability" and r[1] == "review period")
    bad, good = total(history, history.responses_5xx(), start, end), total(history, history.responses(), start, end)
    assert (number(availability[3]), number(availability[4])) == (bad, good)
    spent = bad / good / (1 - spec.SLO_AVAILABILITY_OBJECTIVE)
    assert number(availability[7]) == pytest.approx((1 - spent) * 100, abs=0.5)


def test_the_incidents_alerts_are_in_alerts_fired(review):
    history, start, _, md, _ = review
    rows = table(section(md, "Alerts fired"))
    fired = {r[0]: r for r in rows}
    # ErrorSpike: from the first step whose five minutes hold the threshold's errors to the last.
    errors = history.error_total()
    per_5m = np.convolve(errors, np.ones(300 // hist.STEP, dtype=np.int64))[:len(errors)]
    over = history.times[(per_5m >= spec.ERROR_SPIKE_MIN_ERRORS) & history.in_range(start, history.end)]
    assert len(over), "the generated outage must reach ErrorSpike's threshold"
    spike = fired["ErrorSpike"]
    assert spike[3] == hist_time(over[0]) and spike[4] == hist_time(over[-1])
    assert spike[2] == "warning"
    slow = history.times[(history.db_slow > 0) & history.in_range(start, history.end)]
    assert fired["DatabaseIssues"][3] == hist_time(slow[0])
    assert "HighErrorRate" in fired
    outage_start = history.at(history.plan.db_outage)
    assert outage_start <= parse_time(fired["HighErrorRate"][3]) <= outage_start + 600
    assert "Watchdog" not in fired and "The heartbeat (Watchdog" in md


def hist_time(ts: float) -> str:
    from stack.review.report import when

    return when(ts)


def parse_time(text: str) -> float:
    from datetime import datetime

    return datetime.strptime(text, "%Y-%m-%d %H:%M UTC").replace(tzinfo=UTC).timestamp()


def test_the_dashboards_day_and_week_over_week_queries_answer(served):
    """Every dashboard query that looks back days (`offset 1d`, `offset 7d`: once allow-listed as empty in the live
    dashboard test, which now starts on this history): data here, equal to the generated counts."""
    from tests.test_dashboards_live import numbers, targets_of_all_dashboards

    history, url = served
    looking_back = {(t["uid"], t["panel"], t["ref"]): substitute(t["expr"]) for t in targets_of_all_dashboards()
                    if re.search(r"offset \d+d", t["expr"])}
    errors = history.error_total()
    assert {key[2] for key in looking_back} >= {"B", "C"}, looking_back  # 1 day and 1 week earlier
    for key, expr in looking_back.items():
        offset = re.search(r"offset (\d+)d", expr)
        params = urllib.parse.urlencode({"query": expr, "time": history.end})
        with urllib.request.urlopen(f"{url}/api/v1/query?{params}", timeout=30) as resp:
            result = json.load(resp)["data"]["result"]
        assert numbers(result), f"{key}: no data for {expr}"
        at = history.end - int(offset.group(1)) * DAY
        assert numbers(result)[0] == total(history, errors, at - 300, at), key


def test_bad_input_and_an_unreachable_prometheus(tmp_path):
    for args in (["--since", "7x"], ["--from", "yesterday"], ["--since", "7d", "--from", "2026-11-01"],
                 ["--prometheus", "not a url"], ["--from", "2026-11-20", "--to", "2026-11-19"]):
        result = run_review("http://127.0.0.1:9", *args, "--out", str(tmp_path))
        assert result.returncode == 2, (args, result.stderr)
        assert "usage:" in result.stderr and "Traceback" not in result.stderr
    result = run_review(f"http://127.0.0.1:{free_port()}", "--out", str(tmp_path))
    assert result.returncode == 1
    assert result.stderr.startswith("error: Prometheus at") and result.stderr.count("\n") == 1, result.stderr
