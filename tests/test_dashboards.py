"""Lint for the generated Grafana dashboards and their provisioning (issue 7 part 3).

No Grafana and no running Prometheus: the JSON is checked for structure, the PromQL through
`promtool check rules` (every query written as a recording rule), the metric names against the
app's /metrics contract, and every threshold against app/thresholds.py.
"""
from __future__ import annotations

import ast
import dataclasses
import itertools
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
for _p in (ROOT, ROOT / "app"):
    if str(_p) not in sys.path:
        sys.path.insert(0, str(_p))

import thresholds
from grafana import generate
from grafana.studio_dashboards import common
from tests.fixtures.servers import system_tool

GRAFANA = ROOT / "grafana"
DASHBOARD_DIR = GRAFANA / "dashboards"
DATASOURCE_FILE = GRAFANA / "provisioning" / "datasources" / "prometheus.yml"
PROVIDER_FILE = GRAFANA / "provisioning" / "dashboards" / "studio.yml"
METRICS_DOC = ROOT / "docs" / "metrics.md"

EXPECTED_UIDS = {"studio-overview", "studio-endpoints", "studio-errors", "studio-database",
                 "studio-cache-celery"}
MODERN_PANEL_TYPES = {"row", "timeseries", "stat", "bargauge", "table", "geomap"}
CURRENT_SCHEMA_VERSION = 39
GRID_COLUMNS = 24

# --------------------------------------------------------------------------------------------
# Known metric names: the one place.  The app's names come from docs/metrics.md when that file
# exists (backticked names in its table rows); otherwise from the contract below,
# which is the list agreed in issue 7.  Recording rules found in prometheus/ are added, and so are
# the series that Prometheus and the Redis exporter provide.
# --------------------------------------------------------------------------------------------

CONTRACT_METRICS = (
    "django_http_requests_latency_seconds_by_view_method",  # histogram
    "django_http_responses_total_by_status_view_method_total",
    "django_http_requests_total_by_view_transport_method_total",
    "django_http_exceptions_total_by_type_total",
    "django_db_query_duration_seconds",  # histogram
    "django_db_execute_total",
    "django_db_errors_total",
    "django_db_new_connections_total",
    "studio_errors_total",
    "studio_request_queries",  # histogram
    "studio_request_db_seconds",  # histogram
    "studio_cache_operations_total",
    "studio_celery_tasks_sent_total",
    "studio_celery_tasks_started_total",
    "studio_celery_tasks_succeeded_total",
    "studio_celery_tasks_failed_total",
    "studio_celery_tasks_retried_total",
    "studio_celery_task_runtime_seconds",  # histogram
    "studio_celery_queue_length",
    "studio_build_info",
    "studio_enrollments_total",
    "studio_forum_posts_total",
    "studio_error_users_5m",
    "studio_errors_by_country_total",
)
EXTERNAL_METRICS = (
    "up", "ALERTS",  # Prometheus
    "redis_up", "redis_keyspace_hits_total", "redis_keyspace_misses_total",
    "redis_connected_clients", "redis_commands_processed_total",  # redis exporter
)
HISTOGRAM_SUFFIXES = ("_bucket", "_sum", "_count")
_METRIC_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")


def _names_from_metrics_doc(text: str) -> set[str]:
    names = set()
    for line in text.splitlines():
        if not line.lstrip().startswith("|"):
            continue
        for token in re.findall(r"`([^`]+)`", line):
            token = token.split("{")[0].strip()
            if _METRIC_NAME.fullmatch(token) and "_" in token:
                names.add(token)
    return names


def _recording_rule_names() -> set[str]:
    names = set()
    for path in itertools.chain((ROOT / "prometheus").rglob("*.yml"),
                                (ROOT / "prometheus").rglob("*.yaml")):
        try:
            doc = yaml.safe_load(path.read_text())
        except yaml.YAMLError:
            continue
        if not isinstance(doc, dict):
            continue
        for group in doc.get("groups") or []:
            for rule in group.get("rules") or []:
                if isinstance(rule, dict) and rule.get("record"):
                    names.add(rule["record"])
    return names


def app_metric_source() -> tuple[str, set[str]]:
    if METRICS_DOC.exists():
        names = _names_from_metrics_doc(METRICS_DOC.read_text())
        if names:
            return str(METRICS_DOC.relative_to(ROOT)), names
    return "CONTRACT_METRICS in tests/test_dashboards.py", set(CONTRACT_METRICS)


def known_metric_names() -> set[str]:
    _, app = app_metric_source()
    names = app | set(EXTERNAL_METRICS) | _recording_rule_names()
    expanded = set(names)
    for name in names:
        base = name
        for suffix in HISTOGRAM_SUFFIXES:
            if name.endswith(suffix):
                base = name[: -len(suffix)]
        expanded |= {base + s for s in HISTOGRAM_SUFFIXES}
        if not name.endswith("_total"):
            expanded.add(name + "_total")  # prometheus_client appends it to counters
    return expanded


# --------------------------------------------------------------------------------------------
# Loading and walking the dashboards
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def dashboards() -> dict[str, dict]:
    files = sorted(DASHBOARD_DIR.glob("*.json"))
    assert files, "no dashboards: run `.venv/bin/python grafana/generate.py`"
    return {f.name: json.loads(f.read_text()) for f in files}


def all_panels(dash: dict):
    for panel in dash["panels"]:
        yield panel
        yield from panel.get("panels", [])


def walk_strings(node):
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for v in node.values():
            yield from walk_strings(v)
    elif isinstance(node, list):
        for v in node:
            yield from walk_strings(v)


def walk_dicts(node):
    if isinstance(node, dict):
        yield node
        for v in node.values():
            yield from walk_dicts(v)
    elif isinstance(node, list):
        for v in node:
            yield from walk_dicts(v)


LABEL_VALUES = re.compile(r"^label_values\((?P<selector>.+),\s*(?P<label>\w+)\)$")


def expressions(dash: dict):
    """(where, PromQL) for every query: panel targets, annotations, variable selectors."""
    for panel in all_panels(dash):
        for target in panel.get("targets", []):
            yield f"{dash['uid']} panel {panel['id']} ({panel['title']}) {target['refId']}", \
                target["expr"]
    for anno in dash["annotations"]["list"]:
        if anno.get("expr"):
            yield f"{dash['uid']} annotation {anno['name']}", anno["expr"]
    for var in dash["templating"]["list"]:
        if var["type"] == "query":
            m = LABEL_VALUES.match(var["query"])
            assert m, f"{dash['uid']} variable {var['name']}: unsupported query {var['query']}"
            yield f"{dash['uid']} variable {var['name']}", m.group("selector")


GRAFANA_SUBSTITUTIONS = {"__rate_interval": "1m", "__interval": "1m", "__range": "1h"}
VARIABLE_REF = re.compile(
    r"\$\{(?P<braced>\w+)(?:[.:][^}]*)?\}|\$(?P<plain>\w+)|\[\[(?P<old>\w+)(?::\w+)?\]\]")


def substitute(expr: str) -> str:
    """Grafana variables -> values promtool accepts (durations, or '.*' inside matchers)."""
    def repl(m: re.Match) -> str:
        name = m.group("braced") or m.group("plain") or m.group("old")
        return GRAFANA_SUBSTITUTIONS.get(name, ".*")
    return VARIABLE_REF.sub(repl, expr)


_PROMQL_WORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "offset",
                 "bool", "and", "or", "unless", "inf", "nan"}


def metric_names(expr: str) -> set[str]:
    s = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    s = re.sub(r"\{[^}]*\}", "{}", s)
    s = re.sub(r"\[[^\]]*\]", "[]", s)
    s = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", s)
    s = re.sub(r"\boffset\s+-?\w+", " ", s)
    names = set()
    for m in re.finditer(r"(?<![\w:.])[a-zA-Z_:][\w:]*", s):
        if s[m.end():].lstrip().startswith("("):
            continue  # function or aggregation
        if m.group(0).lower() in _PROMQL_WORDS:
            continue
        names.add(m.group(0))
    return names


# --------------------------------------------------------------------------------------------
# Generation: committed, deterministic, no drift
# --------------------------------------------------------------------------------------------


def test_committed_json_matches_generator():
    assert generate.drift() == [], "run `.venv/bin/python grafana/generate.py`"


def test_generator_is_deterministic():
    assert generate.build_all() == generate.build_all()


def test_check_flag_exits_1_on_drift(tmp_path, capsys):
    assert generate.main(["--check", "--out-dir", str(tmp_path)]) == 1  # missing files
    assert generate.main(["--out-dir", str(tmp_path)]) == 0
    assert generate.main(["--check", "--out-dir", str(tmp_path)]) == 0
    victim = tmp_path / "overview.json"
    victim.write_text(victim.read_text().replace("Request rate", "Requests"))
    assert generate.main(["--check", "--out-dir", str(tmp_path)]) == 1
    stale = tmp_path / "old.json"
    stale.write_text(json.dumps({"__generated": common.GENERATED_MARKER}))
    generate.main(["--out-dir", str(tmp_path)])
    assert not stale.exists(), "write removes dashboards that are no longer generated"
    assert generate.main(["--check", "--out-dir", str(tmp_path)]) == 0
    capsys.readouterr()


def test_cli_check_runs_as_a_script():
    proc = subprocess.run([sys.executable, str(GRAFANA / "generate.py"), "--check"],
                          capture_output=True, text=True, cwd=ROOT, check=False)
    assert proc.returncode == 0, proc.stderr


def test_files_are_canonical_json_with_marker():
    for path in sorted(DASHBOARD_DIR.glob("*.json")):
        text = path.read_text()
        data = json.loads(text)
        assert text == json.dumps(data, sort_keys=True, indent=2) + "\n", path.name
        assert data["__generated"] == common.GENERATED_MARKER, path.name
        assert "do not edit" in data["description"], path.name


# --------------------------------------------------------------------------------------------
# Structure
# --------------------------------------------------------------------------------------------


def test_uids_fixed_and_unique(dashboards):
    uids = [d["uid"] for d in dashboards.values()]
    assert len(uids) == len(set(uids))
    assert set(uids) == EXPECTED_UIDS
    titles = [d["title"] for d in dashboards.values()]
    assert len(titles) == len(set(titles))


def test_schema_version_and_modern_panels_only(dashboards):
    for name, dash in dashboards.items():
        assert dash["schemaVersion"] == CURRENT_SCHEMA_VERSION, name
        assert dash["id"] is None, f"{name}: provisioned dashboards carry no database id"
        for legacy in ("rows", "style", "sharedCrosshair", "hideControls", "__inputs"):
            assert legacy not in dash, f"{name}: legacy key {legacy}"
        for panel in all_panels(dash):
            assert panel["type"] in MODERN_PANEL_TYPES, f"{name}: {panel['type']} panel"
            assert "fieldOptions" not in panel.get("options", {}), f"{name}: pre-7 bar gauge"
            for target in panel.get("targets", []):
                assert "intervalFactor" not in target, f"{name}: legacy intervalFactor"


def test_panel_ids_unique(dashboards):
    for name, dash in dashboards.items():
        ids = [p["id"] for p in all_panels(dash)]
        assert all(isinstance(i, int) and i > 0 for i in ids), name
        assert len(ids) == len(set(ids)), f"{name}: duplicate panel ids"


def test_panels_inside_grid_without_overlap(dashboards):
    for name, dash in dashboards.items():
        boxes = []
        for panel in all_panels(dash):
            pos = panel["gridPos"]
            where = f"{name}: {panel['title']!r} {pos}"
            assert pos["x"] >= 0 and pos["y"] >= 0 and pos["w"] >= 1 and pos["h"] >= 1, where
            assert pos["x"] + pos["w"] <= GRID_COLUMNS, where
            boxes.append((pos["x"], pos["y"], pos["x"] + pos["w"], pos["y"] + pos["h"], where))
        for a, b in itertools.combinations(boxes, 2):
            overlap = a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]
            assert not overlap, f"overlap: {a[4]} and {b[4]}"


BUILTIN_VARIABLES = {"__rate_interval", "__interval", "__range", "__all", "__url_time_range",
                     "__value", "__data", "__field", "__series", "__from", "__to"}


def test_every_variable_is_declared(dashboards):
    for name, dash in dashboards.items():
        declared = {v["name"] for v in dash["templating"]["list"]}
        assert {"datasource", "instance"} <= declared, name
        for text in walk_strings(dash):
            for m in VARIABLE_REF.finditer(text):
                var = m.group("braced") or m.group("plain") or m.group("old")
                if var.startswith("__"):
                    assert var in BUILTIN_VARIABLES, f"{name}: unknown built-in ${var}"
                else:
                    assert var in declared, f"{name}: ${var} is not declared (in {text!r})"


def test_variables_have_the_expected_shape(dashboards):
    for name, dash in dashboards.items():
        variables = {v["name"]: v for v in dash["templating"]["list"]}
        ds = variables["datasource"]
        assert ds["type"] == "datasource" and ds["query"] == "prometheus", name
        for var in variables.values():
            if var["type"] == "query":
                assert var["datasource"] == common.DS, name
                assert var["includeAll"] and var["allValue"] == ".*", name


# --------------------------------------------------------------------------------------------
# Provisioning and datasource
# --------------------------------------------------------------------------------------------


def test_datasource_provisioning_uid_matches_dashboards(dashboards):
    doc = yaml.safe_load(DATASOURCE_FILE.read_text())
    assert doc["apiVersion"] == 1
    (source,) = doc["datasources"]
    assert source["type"] == "prometheus"
    assert source["uid"] == common.DATASOURCE_UID
    assert source["url"] == "${PROMETHEUS_URL}", "the URL comes from the environment"
    for name, dash in dashboards.items():
        ds_var = next(v for v in dash["templating"]["list"] if v["name"] == "datasource")
        assert ds_var["current"]["value"] == source["uid"], name
        for node in walk_dicts(dash):
            ds = node.get("datasource")
            if ds is None:
                continue
            if node.get("builtIn") == 1:
                assert ds == {"type": "grafana", "uid": "-- Grafana --"}, name
            else:
                assert ds == {"type": "prometheus", "uid": "${datasource}"}, f"{name}: {node}"


def test_dashboard_provider_points_at_mounted_directory():
    doc = yaml.safe_load(PROVIDER_FILE.read_text())
    (provider,) = doc["providers"]
    assert provider["type"] == "file"
    # Interpolated from Grafana's environment: compose and the local stack see the JSON at different paths.
    assert provider["options"]["path"] == "${GRAFANA_DASHBOARDS_DIR}"
    assert provider["allowUiUpdates"] is False, "edits belong in the Python sources"


def test_links_between_dashboards(dashboards):
    for name, dash in dashboards.items():
        assert common.TAG in dash["tags"], name
        assert any(link["type"] == "dashboards" and common.TAG in link["tags"]
                   for link in dash["links"]), f"{name}: no link to the other dashboards"
        for text in walk_strings(dash):
            for uid in re.findall(r"/d/([\w-]+)", text):
                assert uid in EXPECTED_UIDS, f"{name}: link to unknown dashboard {uid}"
    linked = {uid for dash in dashboards.values() for text in walk_strings(dash["panels"])
              for uid in re.findall(r"/d/([\w-]+)", text)}
    assert linked >= EXPECTED_UIDS - {"studio-overview"}, "every dashboard is linked from a panel"


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
    source, _ = app_metric_source()
    known = known_metric_names()
    unknown = {}
    for dash in dashboards.values():
        for where, expr in expressions(dash):
            for name in metric_names(expr) - known:
                unknown.setdefault(name, where)
    assert not unknown, f"metrics not in {source} (nor Prometheus/redis/recording rules): {unknown}"


def test_le_matchers_are_bucket_edges(dashboards):
    request = set(thresholds.REQUEST_LATENCY_BUCKETS)
    db = set(thresholds.DB_QUERY_BUCKETS)
    required = thresholds.required_request_edges() | thresholds.required_db_edges() | {
        t.excellent_ms / 1000 for t in thresholds.TARGETS}
    seen = set()
    for dash in dashboards.values():
        for where, expr in expressions(dash):
            for m in re.finditer(r'le(=~?)"([^"]+)"', expr):
                values = {float(v) for v in m.group(2).split("|")}
                assert len(values) == 1, f"{where}: {m.group(0)} names one edge"
                (value,) = values
                assert value in request | db, f"{where}: le={value} is no bucket edge"
                assert value in required, f"{where}: le={value} is not a thresholds.py number"
                seen.add(value)
    assert {thresholds.SLOW_TRANSACTION_P95_SECONDS, thresholds.DB_SLOW_QUERY_SECONDS} <= seen
    assert {t.target_ms / 1000 for t in thresholds.TARGETS} <= seen


def test_comparisons_in_promql_are_structural_only(dashboards):
    """Numbers a query compares against are 0 (drop empty rows); thresholds live in panels."""
    for dash in dashboards.values():
        for where, expr in expressions(dash):
            stripped = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
            for m in re.finditer(r"(?:[<>]=?|==|!=)\s*(-?[\d.]+)", stripped):
                assert float(m.group(1)) == 0, f"{where}: compares against {m.group(1)}"


# --------------------------------------------------------------------------------------------
# Thresholds come from app/thresholds.py
# --------------------------------------------------------------------------------------------


def threshold_numbers() -> set[float]:
    """Every number from thresholds.py a dashboard may show as a threshold (plus ANY)."""
    t = thresholds
    values = {t.SLOW_TRANSACTION_P95_SECONDS, t.HIGH_ERROR_RATE_RATIO, t.ERROR_SPIKE_MIN_ERRORS,
              t.DB_SLOW_QUERY_SECONDS, t.CACHE_HIT_RATIO_FLOOR, t.CELERY_QUEUE_BACKLOG,
              t.CELERY_FAILURE_RATIO, t.SLO_LATENCY_OBJECTIVE, common.ANY}
    for target in t.TARGETS:
        values |= {target.excellent_ms / 1000, target.target_ms / 1000,
                   target.needs_work_ms / 1000}
    return values


def panel_steps(panel: dict) -> list:
    return [s["value"] for s in panel["fieldConfig"]["defaults"]["thresholds"]["steps"]]


def test_every_threshold_value_comes_from_thresholds_py(dashboards):
    allowed = threshold_numbers()
    for name, dash in dashboards.items():
        for node in walk_dicts(dash):
            if "steps" in node and isinstance(node["steps"], list):
                for step in node["steps"]:
                    assert step["value"] is None or step["value"] in allowed, \
                        f"{name}: threshold {step['value']} is not from thresholds.py"


def _find(dash: dict, title_part: str) -> list[dict]:
    return [p for p in all_panels(dash) if title_part in p["title"]]


def _check_thresholds_in(built: dict[str, dict]) -> None:
    """The panels that show the guide's numbers show exactly the current thresholds.py ones."""
    t = thresholds
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
            assert all(f'view=~"{views}"' in tg["expr"] for tg in panel["targets"])

    database = built["database.json"]
    slow_db = _find(database, f"over {t.ms(t.DB_SLOW_QUERY_SECONDS):g} ms")
    assert slow_db, "the slow-query panels are titled from DB_SLOW_QUERY_SECONDS"


def test_panels_show_the_numbers_of_thresholds_py(dashboards):
    _check_thresholds_in(dashboards)


def test_changing_thresholds_py_changes_the_dashboards(monkeypatch):
    """Edit thresholds.py (in memory) and regenerate: the dashboards follow."""
    t = thresholds
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
    built = {name: json.loads(text) for name, text in generate.build_all().items()}
    _check_thresholds_in(built)
    over = json.dumps(built["overview.json"])
    assert '[10m]' in over and '[5m]' not in over
    assert 'le=~\\"2.5\\"' not in over and 'le=\\"2.5\\"' in over


NUMBER_TOKEN = re.compile(r"(?<![\w.$])(\d+(?:\.\d+)?)(?![\w.])")


def _forbidden_literals() -> tuple[set[int], set[float]]:
    """Numbers that must not be written down in grafana/ sources (they live in thresholds.py).

    Integers: the target table in ms, the error-spike count, the minimum request and window
    counts, the queue backlog.  Floats: every threshold in seconds or as a ratio.
    """
    t = thresholds
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
                if thresholds.ALERT_WINDOW in re.findall(r"\[(\w+)\]", value):
                    problems.append(f"{where}: window {value!r} (use alert_window())")
    assert not problems, "threshold numbers written in grafana/ (read thresholds.py):\n" + \
        "\n".join(problems)


# --------------------------------------------------------------------------------------------
# Coverage of the guide's key metrics
# --------------------------------------------------------------------------------------------


def _exprs(dash: dict) -> str:
    return "\n".join(expr for _, expr in expressions(dash))


def test_overview_covers_the_key_metrics(dashboards):
    over = dashboards["overview.json"]
    text = _exprs(over)
    for needle in (common.REQUESTS, common.RESPONSES, "studio_errors_total", "ALERTS{",
                   "django_db_query_duration_seconds", "studio_request_db_seconds"):
        assert needle in text, needle
    for q in common.PERCENTILES:
        assert f"histogram_quantile({q:g}, sum by (le) (rate({common.REQ_LATENCY}_bucket" in text
    (release,) = [a for a in over["annotations"]["list"] if a.get("expr")]
    assert "studio_build_info" in release["expr"] and "{{release}}" in release["titleFormat"]


def test_endpoints_dashboard_covers_every_target(dashboards):
    text = _exprs(dashboards["endpoints.json"])
    for target in thresholds.TARGETS:
        assert f'view=~"{"|".join(target.views)}"' in text, target.name


def test_errors_dashboard_covers_impact(dashboards):
    dash = dashboards["errors.json"]
    text = _exprs(dash)
    for needle in ("sum by (source)", "sum by (exception)", "studio_error_users_5m",
                   "studio_errors_by_country_total", common.EXCEPTIONS, "offset 1d"):
        assert needle in text, needle
    assert any(p["type"] == "table" and "highest error rates" in p["title"]
               for p in all_panels(dash))


def test_database_and_cache_celery_dashboards(dashboards):
    db = _exprs(dashboards["database.json"])
    for needle in (common.DB_EXECUTE, common.DB_NEW_CONNECTIONS, common.DB_ERRORS,
                   "studio_request_queries_bucket", "studio_request_db_seconds_sum"):
        assert needle in db, needle
    cc = _exprs(dashboards["cache-celery.json"])
    for needle in ("studio_cache_operations_total", "redis_keyspace_hits_total",
                   "redis_keyspace_misses_total", "studio_celery_task_runtime_seconds_bucket",
                   "studio_celery_queue_length", 'up{job="studio-worker"}',
                   "studio_celery_tasks_failed_total", "studio_celery_tasks_retried_total"):
        assert needle in cc, needle


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
    t = thresholds
    course_list = t.TARGETS_BY_KEY["course_list"]
    within = f"{course_list.target_ms / 1000!r}"
    slow = le_one if t.SLOW_TRANSACTION_P95_SECONDS == 1.0 else repr(
        t.SLOW_TRANSACTION_P95_SECONDS)
    base = 'instance="app:8000", job="studio-app"'
    req = f'{base}, view="{course_list.view}", method="GET"'
    lat = common.REQ_LATENCY
    series = [
        (f'{lat}_bucket{{{req}, le="{within}"}}', "0+6x60"),
        (f'{lat}_bucket{{{req}, le="{slow}"}}', "0+9x60"),
        (f'{lat}_bucket{{{req}, le="+Inf"}}', "0+10x60"),
        (f"{lat}_count{{{req}}}", "0+10x60"),
        (f'{common.RESPONSES}{{{req}, status="200"}}', "0+9x60"),
        (f'{common.RESPONSES}{{{req}, status="500"}}', "0+1x60"),
        (f'{common.DB_DURATION}_count{{{base}, alias="default", vendor="postgresql"}}',
         "0+10x60"),
        ((f'{common.DB_DURATION}_bucket{{{base}, alias="default", vendor="postgresql", '
          f'le="{t.DB_SLOW_QUERY_SECONDS!r}"}}'), "0+8x60"),
        (f'{common.ERRORS}{{{base}, source="request", exception="ValueError"}}', "0+2x60"),
        # a new exception type: its counter appears at 1 four minutes before evaluation
        (f'{common.ERRORS}{{{base}, source="task", exception="Boom"}}', "_x26 1x34"),
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
    spec = {
        "rule_files": [],
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
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    proc = subprocess.run([promtool, "test", "rules", str(path)], capture_output=True, text=True,
                          check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_compose_wiring_matches_provisioning():
    """docker-compose.yml mounts what the provisioning files expect (when it has Grafana)."""
    compose_file = ROOT / "docker-compose.yml"
    if not compose_file.exists():
        pytest.skip("no docker-compose.yml")
    grafana = (yaml.safe_load(compose_file.read_text()).get("services") or {}).get("grafana")
    if not grafana:
        pytest.skip("docker-compose.yml has no grafana service yet")
    provider = yaml.safe_load(PROVIDER_FILE.read_text())["providers"][0]
    mounts = {v.split(":")[1]: v.split(":")[0] for v in grafana.get("volumes", [])
              if isinstance(v, str) and v.startswith("./")}
    env = grafana.get("environment") or {}
    assert provider["options"]["path"] == "${GRAFANA_DASHBOARDS_DIR}"
    assert mounts.get(env.get("GRAFANA_DASHBOARDS_DIR")) == "./grafana/dashboards"
    assert mounts.get("/etc/grafana/provisioning") == "./grafana/provisioning"
    assert "PROMETHEUS_URL" in env, "the datasource URL is ${PROMETHEUS_URL}"
