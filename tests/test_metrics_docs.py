"""Issue 3, point 8: docs/metrics.md matches the code (both directions) and live scrapes."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from prometheus_client import Counter, Gauge, Histogram, Summary

from observability import metrics
from tests.fixtures.servers import PROJECT_DIR
from tests.test_metrics_support import http, scrape

DOC = PROJECT_DIR / "docs" / "metrics.md"
HEADER = re.compile(r"^\|\s*Name\s*\|\s*Type\s*\|\s*Labels\s*\|\s*Exported by\s*\|\s*Meaning\s*\|\s*$")


def documented(path: Path = DOC) -> dict[str, dict]:
    """{name: {type, labels, jobs}} from every metrics table of the page."""
    rows, in_table = {}, False
    for line in path.read_text().splitlines():
        if HEADER.match(line):
            in_table = True
            continue
        if in_table and not line.startswith("|"):
            in_table = False
        if not in_table or set(line) <= set("|- "):
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        name = cells[0].strip("`")
        assert name not in rows, f"{name} is documented twice"
        rows[name] = {"type": cells[1], "labels": set(re.findall(r"`([a-z_]+)`", cells[2])),
                      "jobs": {j.strip() for j in cells[3].split(",") if j.strip()}, "meaning": cells[4]}
    return rows


def registered() -> dict[str, dict]:
    """{exposition name: {type, labels}} of every metric observability.metrics defines."""
    out = {}
    for value in vars(metrics).values():
        if isinstance(value, (Counter, Gauge, Histogram, Summary)):
            family = value.describe()[0]
            name = family.name + "_total" if family.type == "counter" else family.name
            out[name] = {"type": family.type, "labels": set(value._labelnames)}
        elif type(value).__module__ == metrics.__name__ and callable(getattr(value, "describe", None)):
            for family in value.describe():  # a collector computed at scrape time
                out[family.name] = {"type": family.type, "labels": set(family._labelnames)}
    # Collector classes instantiated with what they read: the worker's Celery app, the error-user count.
    for collector in (metrics.QueueLengthCollector(app=None), metrics.ErrorUsersCollector(count=lambda: 0)):
        for family in collector.describe():
            out[family.name] = {"type": family.type, "labels": set(family._labelnames)}
    return out


def test_every_registered_metric_is_documented_and_every_documented_one_exists():
    docs = {n: d for n, d in documented().items() if n.startswith("studio_")}
    code = registered()
    assert set(code) - set(docs) == set(), "registered in observability/metrics.py but not in docs/metrics.md"
    assert set(docs) - set(code) == set(), "documented in docs/metrics.md but not in observability/metrics.py"
    for name, spec in code.items():
        assert docs[name]["type"] == spec["type"], name
        assert docs[name]["labels"] == spec["labels"], name
        assert docs[name]["meaning"] and docs[name]["jobs"] <= {"app", "worker"}, name


def test_the_process_start_gauge_is_documented_as_its_collector_describes_it():
    from observability.process_start import ProcessStartCollector

    family = ProcessStartCollector().describe()[0]  # not a studio_ name: exported in multiprocess mode only
    row = documented()[family.name]
    assert (row["type"], row["labels"], row["jobs"]) == (family.type, set(), {"app", "worker"})


def test_the_checker_notices_a_missing_and_an_invented_metric(tmp_path):
    text = DOC.read_text()
    broken = tmp_path / "metrics.md"
    broken.write_text(re.sub(r"^\| `studio_forum_posts_total` .*\n", "", text, flags=re.MULTILINE)
                      + "\n| Name | Type | Labels | Exported by | Meaning |\n|---|---|---|---|---|\n"
                        "| `studio_invented_total` | counter | | app | Nothing. |\n")
    docs = documented(broken)
    assert "studio_forum_posts_total" in set(registered()) - set(docs)
    assert "studio_invented_total" in set(docs) - set(registered())


@pytest.mark.slow
def test_documented_metrics_are_in_the_live_app_scrape(gunicorn_factory):
    server = gunicorn_factory(workers=1)
    assert http(f"{server.base_url}/api/v1/courses/")[0] == 200
    assert http(f"{server.base_url}/_drill/error/")[0] == 500
    assert http(f"{server.base_url}/_drill/db-error/")[0] == 500  # django_db_errors_total appears with one
    live = scrape(f"{server.base_url}/metrics")
    missing = []
    for name, spec in documented().items():
        if "app" not in spec["jobs"]:
            continue
        family = name[:-len("_total")] if spec["type"] == "counter" else name
        if live.types.get(family) != spec["type"]:
            missing.append((name, spec["type"], live.types.get(family)))
    assert missing == [], "documented for the app job but not in its scrape (name, documented, live type)"
