"""The dashboards' PromQL: every query parses (promtool), names only known metrics, matches bucket edges
exactly, and the key queries compute the right numbers on known data (promtool test rules)."""
from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
import yaml

import monitoring_spec as spec
from monitoring_spec import contract as metric
from tests.fixtures.dashboards import (
    METRICS_DOC,
    ROOT,
    _names_from_metrics_doc,
    all_panels,
    expressions,
    known_metric_names,
    metric_names,
    substitute,
    with_recorded,
)
from tests.fixtures.servers import system_tool

# --------------------------------------------------------------------------------------------
# PromQL
# --------------------------------------------------------------------------------------------


def _rule_file(exprs: list[tuple[str, str]], path: Path) -> Path:
    rules = [{"record": f"dashboard_lint:expr_{i}", "expr": substitute(expr)}
             for i, (_, expr) in enumerate(exprs)]
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboards", "rules": rules}]},
                                   sort_keys=False))
    return path


def test_every_promql_expression_parses(dashboards, tmp_path):
    promtool = system_tool("promtool")
    exprs = [e for dash in dashboards.values() for e in expressions(dash)]
    assert len(exprs) > 50
    for where, expr in exprs:
        leftover = substitute(expr)
        assert "$" not in leftover, f"{where}: unsubstituted variable in {leftover}"
    proc = subprocess.run([promtool, "check", "rules", str(_rule_file(exprs, tmp_path / "all.yml"))],
                          capture_output=True, text=True, check=False)
    if proc.returncode == 0:
        return
    bad = []
    for i, (where, expr) in enumerate(exprs):  # find the culprits one by one
        one = subprocess.run([promtool, "check", "rules",
                              str(_rule_file([(where, expr)], tmp_path / f"{i}.yml"))],
                             capture_output=True, text=True, check=False)
        if one.returncode != 0:
            bad.append(f"{where}: {expr}\n  {one.stdout.strip()} {one.stderr.strip()}")
    pytest.fail("PromQL that does not parse:\n" + "\n".join(bad or [proc.stdout + proc.stderr]))


def test_promtool_catches_a_broken_expression(tmp_path):
    """The check above would notice a bad query (guards against a silently lenient promtool)."""
    promtool = system_tool("promtool")
    path = _rule_file([("broken", "sum(rate(x[5m])")], tmp_path / "broken.yml")
    proc = subprocess.run([promtool, "check", "rules", str(path)], capture_output=True, text=True,
                          check=False)
    assert proc.returncode != 0


def test_substitution_covers_grafana_syntax():
    expr = 'rate(x{instance=~"$instance", view=~"${view}", t=~"[[task]]"}[$__rate_interval])'
    assert substitute(expr) == 'rate(x{instance=~".*", view=~".*", t=~".*"}[1m])'


def test_metric_extraction():
    expr = ('histogram_quantile(0.95, sum by (le, view) (rate(a_bucket{le="0.5", view=~"$view"}'
            '[5m] offset 1d))) / on (view) group_left (x) b or vector(0) unless max(c) > 0')
    assert metric_names(expr) == {"a_bucket", "b", "c"}


def test_metrics_doc_parser():
    sample = ("| Metric | Type | Labels |\n|---|---|---|\n"
              "| `studio_errors_total` | counter | `source`, `exception` |\n"
              "| `studio_request_queries_bucket{view,le}` | histogram | `view` |\n"
              "Text with `not_in_a_table` is ignored.\n")
    assert _names_from_metrics_doc(sample) == {"studio_errors_total",
                                               "studio_request_queries_bucket"}


def test_every_metric_name_is_known(dashboards):
    source = METRICS_DOC.relative_to(ROOT)
    known = known_metric_names()
    unknown = {}
    for dash in dashboards.values():
        for where, expr in expressions(dash):
            for name in metric_names(expr) - known:
                unknown.setdefault(name, where)
    assert not unknown, f"metrics not in {source} (nor Prometheus/redis/recording rules): {unknown}"


def test_le_matchers_are_bucket_edges(dashboards):
    request = set(spec.REQUEST_LATENCY_BUCKETS)
    db = set(spec.DB_QUERY_BUCKETS)
    required = spec.required_request_edges() | spec.required_db_edges() | {
        t.excellent_ms / 1000 for t in spec.TARGETS}
    seen = set()
    for name, dash in dashboards.items():
        for where, expr in [*expressions(dash), *((f"{name}: a rule it reads", e)
                                                  for e in with_recorded([e for _, e in expressions(dash)]))]:
            for m in re.finditer(r'le(=~?)"([^"]+)"', expr):
                values = {float(v) for v in m.group(2).split("|")}
                assert len(values) == 1, f"{where}: {m.group(0)} names one edge"
                (value,) = values
                assert value in request | db, f"{where}: le={value} is no bucket edge"
                assert value in required, f"{where}: le={value} is not a number of the spec"
                seen.add(value)
    assert {spec.SLOW_TRANSACTION_P95_SECONDS, spec.DB_SLOW_QUERY_SECONDS} <= seen
    assert {t.target_ms / 1000 for t in spec.TARGETS} <= seen


def test_comparisons_in_promql_are_structural_only(dashboards):
    """Numbers a query compares against are 0 (drop empty rows); thresholds live in panels."""
    for dash in dashboards.values():
        for where, expr in expressions(dash):
            stripped = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
            for m in re.finditer(r"(?:[<>]=?|==|!=)\s*(-?[\d.]+)", stripped):
                assert float(m.group(1)) == 0, f"{where}: compares against {m.group(1)}"


# --------------------------------------------------------------------------------------------
# Semantics: a few key queries, evaluated by `promtool test rules` on synthetic series
# --------------------------------------------------------------------------------------------


def _expr(dashboards: dict, file: str, title: str, panel_type: str, contains: str = "") -> str:
    (expr,) = [p["targets"][0]["expr"] for p in all_panels(dashboards[file])
               if p["title"].startswith(title) and p["type"] == panel_type
               and contains in p["targets"][0]["expr"]]
    return substitute(expr)


@pytest.mark.parametrize("le_one", ["1.0", "1"], ids=["prometheus-2-le", "prometheus-3-le"])
def test_key_queries_compute_the_right_numbers(dashboards, tmp_path, le_one):
    """10 requests a minute: 6 within 200 ms, 9 within 1 s, 1 of them a 500; 10 queries a
    minute, 8 within 500 ms; 2 errors a minute plus one of a new type.  Prometheus 3 writes
    le="1.0" as le="1"."""
    promtool = system_tool("promtool")
    t = spec
    course_list = t.TARGETS_BY_KEY["course_list"]
    within = f"{course_list.target_ms / 1000!r}"
    slow = le_one if t.SLOW_TRANSACTION_P95_SECONDS == 1.0 else repr(
        t.SLOW_TRANSACTION_P95_SECONDS)
    base = 'instance="app:8000", job="studio-app"'
    req = f'{base}, view="{course_list.view}", method="GET"'
    lat = metric.REQ_LATENCY
    series = [
        (f"up{{{base}}}", "1x60"),
        (f'{lat}_bucket{{{req}, le="{within}"}}', "0+6x60"),
        (f'{lat}_bucket{{{req}, le="{slow}"}}', "0+9x60"),
        (f'{lat}_bucket{{{req}, le="+Inf"}}', "0+10x60"),
        (f"{lat}_count{{{req}}}", "0+10x60"),
        (f'{metric.RESPONSES}{{{req}, status="200"}}', "0+9x60"),
        (f'{metric.RESPONSES}{{{req}, status="500"}}', "0+1x60"),
        (f'{metric.DB_DURATION}_count{{{base}, alias="default", vendor="postgresql"}}',
         "0+10x60"),
        ((f'{metric.DB_DURATION}_bucket{{{base}, alias="default", vendor="postgresql", '
          f'le="{t.DB_SLOW_QUERY_SECONDS!r}"}}'), "0+8x60"),
        (f'{metric.ERRORS}{{{base}, source="request", exception="ValueError"}}', "0+2x60"),
        # a new exception type: its counter appears at 1 four minutes before evaluation
        (f'{metric.ERRORS}{{{base}, source="task", exception="Boom"}}', "_x26 1x34"),
    ]
    window_minutes = t.ALERT_WINDOW_SECONDS / 60
    cases = [
        (_expr(dashboards, "overview.json", "Slow transactions", "stat"), 0.1),
        (_expr(dashboards, "overview.json", "Slow transactions", "timeseries"), 0.1),
        (_expr(dashboards, "overview.json", "Error rate", "stat"), 0.1),
        (_expr(dashboards, "overview.json", "Error rate", "timeseries"), 0.1),
        (_expr(dashboards, "errors.json", "Errors in last", "stat"), 2 * window_minutes + 1),
        (_expr(dashboards, "overview.json", "Errors in last", "stat"), 2 * window_minutes + 1),
        (_expr(dashboards, "database.json", "Queries over", "stat"), 2 * window_minutes),
        (_expr(dashboards, "endpoints.json", "GET requests within target", "stat",
               f'view=~"{"|".join(course_list.views)}"'), 0.6),
    ]
    # The panels that show what an alert judges read the rules' recorded series: the real rules are loaded.
    rule_files = sorted((ROOT / "prometheus" / "rules").glob("*.yml"))
    groups = [g["name"] for path in rule_files for g in yaml.safe_load(path.read_text())["groups"]]
    test_file = {
        "rule_files": [str(path) for path in rule_files if path.name == "recording.yml"],
        "group_eval_order": [g for g in groups if g.startswith("studio.recording.")],
        "evaluation_interval": "1m",
        "tests": [{
            "interval": "1m",
            "input_series": [{"series": s, "values": v} for s, v in series],
            "promql_expr_test": [
                {"expr": f"round({expr}, 0.001)", "eval_time": "30m", "exp_samples": [{"labels": "{}",
                                                                    "value": value}]}
                for expr, value in cases
            ],
        }],
    }
    path = tmp_path / "semantics.yml"
    path.write_text(yaml.safe_dump(test_file, sort_keys=False))
    proc = subprocess.run([promtool, "test", "rules", str(path)], capture_output=True, text=True,
                          check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr

