"""Every threshold a dashboard shows comes from the spec (monitoring_spec): no number written down in
grafana/, the panels show the current numbers, and changing the spec changes the dashboards."""
from __future__ import annotations

import ast
import dataclasses
import json
import re

import monitoring_spec as spec
from grafana import generate, queries
from tests.fixtures.dashboards import GRAFANA, ROOT, all_panels, walk_dicts

# --------------------------------------------------------------------------------------------
# Thresholds come from the spec
# --------------------------------------------------------------------------------------------


def threshold_numbers() -> set[float]:
    """Every number of the spec a dashboard may show as a threshold (plus ANY)."""
    t = spec
    values = {t.SLOW_TRANSACTION_P95_SECONDS, t.HIGH_ERROR_RATE_RATIO, t.ERROR_SPIKE_MIN_ERRORS,
              t.DB_SLOW_QUERY_SECONDS, t.CACHE_HIT_RATIO_FLOOR, t.CELERY_QUEUE_BACKLOG,
              t.CELERY_FAILURE_RATIO, t.SLO_LATENCY_OBJECTIVE, queries.ANY}
    for target in t.TARGETS:
        values |= {target.excellent_ms / 1000, target.target_ms / 1000,
                   target.needs_work_ms / 1000}
    return values


def panel_steps(panel: dict) -> list:
    return [s["value"] for s in panel["fieldConfig"]["defaults"]["thresholds"]["steps"]]


def test_every_threshold_value_comes_from_the_spec(dashboards):
    allowed = threshold_numbers()
    for name, dash in dashboards.items():
        for node in walk_dicts(dash):
            if "steps" in node and isinstance(node["steps"], list):
                for step in node["steps"]:
                    assert step["value"] is None or step["value"] in allowed, \
                        f"{name}: threshold {step['value']} is not from the spec"


def _find(dash: dict, title_part: str) -> list[dict]:
    return [p for p in all_panels(dash) if title_part in p["title"]]


def _check_thresholds_in(built: dict[str, dict]) -> None:
    """The panels that show the guide's numbers show exactly the current spec's ones."""
    t = spec
    over = built["overview.json"]
    (rate_stat,) = [p for p in _find(over, "Error rate") if p["type"] == "stat"]
    assert panel_steps(rate_stat) == [None, t.HIGH_ERROR_RATE_RATIO]
    spike = [p for p in all_panels(over) if t.ALERT_WINDOW in p["title"] and "Errors" in p["title"]]
    assert spike and all(panel_steps(p) == [None, t.ERROR_SPIKE_MIN_ERRORS] for p in spike)
    (latency,) = _find(over, "Request latency percentiles")
    assert panel_steps(latency) == [None, t.SLOW_TRANSACTION_P95_SECONDS]
    assert latency["fieldConfig"]["defaults"]["custom"]["thresholdsStyle"]["mode"] != "off"
    (db,) = _find(over, "Database query time")
    assert panel_steps(db) == [None, t.DB_SLOW_QUERY_SECONDS]
    slow_title = f"Slow transactions (> {t.SLOW_TRANSACTION_P95_SECONDS:g} s)"
    assert _find(over, slow_title), slow_title

    ends = built["endpoints.json"]
    rows = [p for p in ends["panels"] if p["type"] == "row"]
    for target in t.TARGETS:
        bands = [None, target.excellent_ms / 1000, target.target_ms / 1000,
                 target.needs_work_ms / 1000]
        (row,) = [r for r in rows if r["title"].startswith(target.name)]
        y = row["gridPos"]["y"]
        section = [p for p in ends["panels"] if p["type"] != "row" and p["gridPos"]["y"] == y + 1]
        banded = [p for p in section if p["fieldConfig"]["defaults"].get("unit") == "s"]
        assert len(banded) == 3, f"{target.name}: average, P95 and the time series"
        for panel in banded:
            assert panel_steps(panel) == bands, f"{target.name}: {panel['title']}"
            assert [s["color"] for s in panel["fieldConfig"]["defaults"]["thresholds"]["steps"]] \
                == ["green", "yellow", "orange", "red"]
            views = "|".join(target.views)
            # its own views, or the alert's recorded series of this endpoint
            assert all(f'view=~"{views}"' in tg["expr"] or f'{{endpoint="{target.key}"}}' in tg["expr"]
                       for tg in panel["targets"])

    database = built["database.json"]
    slow_db = _find(database, f"over {t.ms(t.DB_SLOW_QUERY_SECONDS):g} ms")
    assert slow_db, "the slow-query panels are titled from DB_SLOW_QUERY_SECONDS"


def test_panels_show_the_numbers_of_the_spec(dashboards):
    _check_thresholds_in(dashboards)


def test_changing_the_spec_changes_the_dashboards(monkeypatch):
    """Edit the spec (in memory) and regenerate: the dashboards follow."""
    t = spec
    edges = t.REQUEST_LATENCY_BUCKETS
    first = t.TARGETS[0]
    moved = dataclasses.replace(first, excellent_ms=round(edges[1] * 1000),
                                target_ms=round(edges[2] * 1000),
                                needs_work_ms=round(edges[3] * 1000))
    monkeypatch.setattr(t, "TARGETS", (moved, *t.TARGETS[1:]))
    monkeypatch.setattr(t, "ERROR_SPIKE_MIN_ERRORS", t.ERROR_SPIKE_MIN_ERRORS + 7)
    monkeypatch.setattr(t, "HIGH_ERROR_RATE_RATIO", 0.02)
    monkeypatch.setattr(t, "SLOW_TRANSACTION_P95_SECONDS", 2.5)
    monkeypatch.setattr(t, "DB_SLOW_QUERY_SECONDS", 0.25)
    monkeypatch.setattr(t, "ALERT_WINDOW", "10m")
    built = {path.name: json.loads(text) for path, text in generate.build_all().items()}
    _check_thresholds_in(built)
    over = json.dumps(built["overview.json"])
    assert '[10m]' in over and '[5m]' not in over
    assert 'le=~\\"2.5\\"' not in over and 'le=\\"2.5\\"' in over


NUMBER_TOKEN = re.compile(r"(?<![\w.$])(\d+(?:\.\d+)?)(?![\w.])")
SNAPSHOT = GRAFANA / "snapshot"  # not a dashboard source: grafana/snapshot/ draws the generated JSON


def _forbidden_literals() -> tuple[set[int], set[float]]:
    """Numbers that must not be written down in grafana/ sources (they live in the spec).

    Integers: the target table in ms, the error-spike count, the minimum request and window
    counts, the queue backlog.  Floats: every threshold in seconds or as a ratio.
    """
    t = spec
    ints = {t.ERROR_SPIKE_MIN_ERRORS, t.HIGH_ERROR_RATE_MIN_REQUESTS, t.ALERT_WINDOW_SECONDS,
            t.CELERY_QUEUE_BACKLOG, round(t.ms(t.DB_SLOW_QUERY_SECONDS))}
    floats = {t.SLOW_TRANSACTION_P95_SECONDS, t.HIGH_ERROR_RATE_RATIO, t.DB_SLOW_QUERY_SECONDS,
              t.CACHE_HIT_RATIO_FLOOR, t.CELERY_FAILURE_RATIO, t.SLO_LATENCY_OBJECTIVE,
              t.SLOW_TRANSACTION_QUANTILE}
    for target in t.TARGETS:
        ints |= {target.excellent_ms, target.target_ms, target.needs_work_ms}
        floats |= {target.excellent_ms / 1000, target.target_ms / 1000,
                   target.needs_work_ms / 1000}
    return ints, floats


def test_no_threshold_literals_in_grafana_sources():
    ints, floats = _forbidden_literals()
    problems = []
    for path in sorted(GRAFANA.rglob("*.py")):
        if SNAPSHOT in path.parents:  # draws whatever thresholds the JSON has: its numbers are pixels and sizes
            continue
        tree = ast.parse(path.read_text())
        exempt = set()
        for node in ast.walk(tree):  # PERCENTILES = (...) lists quantiles, not thresholds
            if isinstance(node, ast.Assign) and any(
                    isinstance(tg, ast.Name) and tg.id == "PERCENTILES" for tg in node.targets):
                exempt |= {id(n) for n in ast.walk(node.value)}
        for node in ast.walk(tree):
            if not isinstance(node, ast.Constant) or id(node) in exempt:
                continue
            where = f"{path.relative_to(ROOT)}:{node.lineno}"
            value = node.value
            if isinstance(value, bool):
                continue
            numbers = ints if isinstance(value, int) else floats
            if isinstance(value, (int, float)) and value in numbers:
                problems.append(f"{where}: {value}")
            elif isinstance(value, str):
                for token in NUMBER_TOKEN.findall(value):
                    number = float(token) if "." in token else int(token)
                    if (number in floats) if "." in token else (number in ints):
                        problems.append(f"{where}: {token!r} in {value!r}")
                if spec.ALERT_WINDOW in re.findall(r"\[(\w+)\]", value):
                    problems.append(f"{where}: window {value!r} (use alert_window())")
    assert not problems, "threshold numbers written in grafana/ (read the spec):\n" + \
        "\n".join(problems)

