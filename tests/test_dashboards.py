"""The generated Grafana dashboards and their provisioning (issue 7 part 3): generation without drift,
structure (uids, schema, grid, variables), provisioning, links, and coverage of the guide's key metrics.

No Grafana and no running Prometheus: the queries are checked in test_dashboard_queries.py, the
thresholds in test_dashboard_the spec.
"""
from __future__ import annotations

import itertools
import json
import re
import subprocess
import sys

import pytest
import yaml

import monitoring_spec as spec
from grafana import generate, panels, queries
from monitoring_spec import artifacts
from monitoring_spec import contract as metric
from monitoring_spec.contract import DASHBOARDS
from tests.fixtures.dashboards import (
    DASHBOARD_DIR,
    GRAFANA,
    ROOT,
    VARIABLE_REF,
    all_panels,
    expressions,
    walk_dicts,
    walk_strings,
    with_recorded,
)

DATASOURCE_FILE = GRAFANA / "provisioning" / "datasources" / "prometheus.yml"
PROVIDER_FILE = GRAFANA / "provisioning" / "dashboards" / "studio.yml"
EXPECTED_UIDS = {board.uid for board in DASHBOARDS.values()}
MODERN_PANEL_TYPES = {"row", "timeseries", "stat", "bargauge", "table", "geomap"}
CURRENT_SCHEMA_VERSION = 39
GRID_COLUMNS = 24

# --------------------------------------------------------------------------------------------
# Generation: committed, deterministic, no drift
# --------------------------------------------------------------------------------------------


def test_committed_json_matches_generator():
    files = generate.build_all()
    assert artifacts.sync(files, check=True) == [], "run `make generate`"


def test_generator_is_deterministic():
    assert generate.build_all() == generate.build_all()


def test_check_flag_exits_1_on_drift(tmp_path, capsys):
    root = ["--root", str(tmp_path)]
    assert generate.main(["--check", *root]) == 1  # missing files
    assert generate.main(root) == 0
    assert generate.main(["--check", *root]) == 0
    victim = tmp_path / "grafana" / "dashboards" / "overview.json"
    victim.write_text(victim.read_text().replace("Request rate", "Requests"))
    assert generate.main(["--check", *root]) == 1
    stale = victim.parent / "old.json"
    stale.write_text(json.dumps({"description": f"Old. {panels.GENERATED_MARKER}"}))
    hand_written = victim.parent / "mine.json"
    hand_written.write_text(json.dumps({"description": "made by hand", "title": "generated, do not edit"}))
    assert generate.main(["--check", *root]) == 1
    generate.main(root)
    assert not stale.exists(), "write removes dashboards that are no longer generated"
    assert hand_written.exists(), "a dashboard whose description lacks the marker is hand-written"
    assert generate.main(["--check", *root]) == 0
    capsys.readouterr()


def test_cli_check_runs_as_a_module():
    proc = subprocess.run([sys.executable, "-m", "grafana.generate", "--check"],
                          capture_output=True, text=True, cwd=ROOT, check=False)
    assert proc.returncode == 0, proc.stderr


def test_files_are_canonical_json_with_marker():
    for path in sorted(DASHBOARD_DIR.glob("*.json")):
        text = path.read_text()
        data = json.loads(text)
        assert text == json.dumps(data, sort_keys=True, indent=2) + "\n", path.name
        assert data["description"].endswith(panels.GENERATED_MARKER), path.name


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
                assert var["datasource"] == panels.DS, name
                assert var["includeAll"] and var["allValue"] == ".*", name


# --------------------------------------------------------------------------------------------
# Provisioning and datasource
# --------------------------------------------------------------------------------------------


def test_datasource_provisioning_uid_matches_dashboards(dashboards):
    doc = yaml.safe_load(DATASOURCE_FILE.read_text())
    assert doc["apiVersion"] == 1
    (source,) = doc["datasources"]
    assert source["type"] == "prometheus"
    assert source["uid"] == panels.DATASOURCE_UID
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
                assert ds in (panels.DS, panels.SLO_DS), f"{name}: {node}"


def test_slo_panels_read_the_long_term_store_with_prometheus_behind_it(dashboards):
    doc = yaml.safe_load((GRAFANA / "provisioning" / "datasources" / "long-term.yml").read_text())
    (source,) = doc["datasources"]
    assert source["type"] == "prometheus" and source["uid"] == panels.LONG_TERM_UID
    assert source["name"] == panels.LONG_TERM_NAME and source["isDefault"] is False
    assert source["url"] == "${LONG_TERM_URL}", "the URL comes from the environment"
    slo_panels = []
    for name, dash in dashboards.items():
        variables = {v["name"]: v for v in dash["templating"]["list"]}
        for panel in dash["panels"]:
            if panel.get("datasource") == panels.SLO_DS:
                slo_panels.append(panel["title"])
                assert all(t["datasource"] == panels.SLO_DS for t in panel["targets"]), panel["title"]
                var = variables["slo_source"]
                assert var["type"] == "datasource" and var["query"] == "prometheus", name
                assert var["current"]["value"] == panels.LONG_TERM_UID, name
    assert "Share of GET requests within target (selected range)" in slo_panels
    # Without a store the data source must still answer: whoever starts Grafana points it at Prometheus.
    grafana = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]["grafana"]["environment"]
    assert grafana["LONG_TERM_URL"] == "${LONG_TERM_URL:-" + grafana["PROMETHEUS_URL"] + "}"


def test_dashboard_provider_points_at_mounted_directory():
    doc = yaml.safe_load(PROVIDER_FILE.read_text())
    (provider,) = doc["providers"]
    assert provider["type"] == "file"
    # Interpolated from Grafana's environment: compose and the local stack see the JSON at different paths.
    assert provider["options"]["path"] == "${GRAFANA_DASHBOARDS_DIR}"
    assert provider["allowUiUpdates"] is False, "edits belong in the Python sources"


def test_links_between_dashboards(dashboards):
    for name, dash in dashboards.items():
        assert panels.TAG in dash["tags"], name
        assert any(link["type"] == "dashboards" and panels.TAG in link["tags"]
                   for link in dash["links"]), f"{name}: no link to the other dashboards"
        for text in walk_strings(dash):
            for uid in re.findall(r"/d/([\w-]+)", text):
                assert uid in EXPECTED_UIDS, f"{name}: link to unknown dashboard {uid}"
    linked = {uid for dash in dashboards.values() for text in walk_strings(dash["panels"])
              for uid in re.findall(r"/d/([\w-]+)", text)}
    assert linked >= EXPECTED_UIDS - {"studio-overview"}, "every dashboard is linked from a panel"


# --------------------------------------------------------------------------------------------
# Coverage of the guide's key metrics
# --------------------------------------------------------------------------------------------


def _exprs(dash: dict) -> str:
    """The dashboard's queries with the recording rules they read (what the panels show, underneath)."""
    return "\n".join(with_recorded([expr for _, expr in expressions(dash)]))


def test_overview_covers_the_key_metrics(dashboards):
    over = dashboards["overview.json"]
    text = _exprs(over)
    for needle in (metric.REQUESTS, metric.RESPONSES, "studio_errors_total", "ALERTS{",
                   "django_db_query_duration_seconds", "studio_request_db_seconds"):
        assert needle in text, needle
    for q in queries.PERCENTILES:
        assert f"histogram_quantile({q:g}, sum by (le) (rate({metric.REQ_LATENCY}_bucket" in text
    (release,) = [a for a in over["annotations"]["list"] if "target" in a]
    assert "studio_build_info" in release["target"]["expr"] and "{{release}}" in release["titleFormat"]
    assert release["target"]["refId"] and release["target"]["range"], "a range query Grafana can run"


def test_endpoints_dashboard_covers_every_target(dashboards):
    text = _exprs(dashboards["endpoints.json"])
    for target in spec.TARGETS:
        assert f'view=~"{"|".join(target.views)}"' in text, target.name


def test_errors_dashboard_covers_impact(dashboards):
    dash = dashboards["errors.json"]
    text = _exprs(dash)
    for needle in ("sum by (source)", "sum by (exception)", "studio_error_users_5m",
                   "studio_errors_by_country_total", metric.EXCEPTIONS, "offset 1d"):
        assert needle in text, needle
    assert any(p["type"] == "table" and "highest error rates" in p["title"]
               for p in all_panels(dash))


def test_database_and_cache_celery_dashboards(dashboards):
    db = _exprs(dashboards["database.json"])
    for needle in (metric.DB_EXECUTE, metric.DB_NEW_CONNECTIONS, metric.DB_ERRORS,
                   "studio_request_queries_bucket", "studio_request_db_seconds_sum"):
        assert needle in db, needle
    cc = _exprs(dashboards["cache-celery.json"])
    for needle in ("studio_cache_operations_total", "redis_keyspace_hits_total",
                   "redis_keyspace_misses_total", "studio_celery_task_runtime_seconds_bucket",
                   "studio_celery_queue_length", 'up{job="studio-worker"}',
                   "studio_celery_tasks_failed_total", "studio_celery_tasks_retried_total"):
        assert needle in cc, needle


def test_the_readme_links_every_dashboard_by_its_uid():
    """People reach the dashboards through README's table: its links follow the contract's uids."""
    readme = (ROOT / "README.md").read_text()
    linked = set(re.findall(r"\(http://localhost:3000/d/([\w-]+)\)", readme))
    assert linked == EXPECTED_UIDS


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
