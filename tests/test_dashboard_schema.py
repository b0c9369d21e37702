"""The generated dashboards type-check against Grafana's own schema: the Dashboard type of @grafana/schema, by
tsc (`make schema-check`: grafana/schema/check.mjs over the pinned packages of grafana/schema/package-lock.json,
installed with npm ci on first use).  Copies broken the ways the dashboards once were prove the check fails."""
from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from tests.fixtures.dashboards import DASHBOARD_DIR, ROOT

CHECK = ROOT / "grafana" / "schema" / "check.mjs"

pytestmark = pytest.mark.skipif(
    not (shutil.which("node") and shutil.which("npm")),
    reason="node and npm are not installed: the check runs tsc against @grafana/schema from the npm registry")


def run_check(*args: str, cwd=ROOT, command=None) -> subprocess.CompletedProcess:
    return subprocess.run(command or ["node", str(CHECK), *args], cwd=cwd, capture_output=True, text=True,
                          timeout=500, check=False)


def error_lines(proc: subprocess.CompletedProcess) -> list[str]:
    return [line for line in proc.stdout.splitlines() if ": error TS" in line]


def test_generated_dashboards_match_grafana_schema():
    proc = run_check(command=["make", "--no-print-directory", "schema-check"])
    assert proc.returncode == 0, (
        f"tsc found {len(error_lines(proc))} error(s) against @grafana/schema's Dashboard type (fix the generator "
        f"in grafana/, then `make generate`):\n{proc.stdout}{proc.stderr}")
    assert f"{len(list(DASHBOARD_DIR.glob('*.json')))} dashboard(s) match" in proc.stdout


def _first(items, pred):
    return next(item for item in items if pred(item))


def _link_without_type(dash: dict) -> None:
    panel = _first(dash["panels"], lambda p: p.get("links"))
    del panel["links"][0]["type"]


def _annotation_expr_at_top_level(dash: dict) -> None:
    anno = _first(dash["annotations"]["list"], lambda a: "target" in a)
    anno["expr"] = anno.pop("target")["expr"]


def _misspelt_threshold_mode(dash: dict) -> None:
    panel = _first(dash["panels"], lambda p: "thresholds" in p.get("fieldConfig", {}).get("defaults", {}))
    panel["fieldConfig"]["defaults"]["thresholds"]["mode"] = "absolut"


def _unknown_variable_field(dash: dict) -> None:
    _first(dash["templating"]["list"], lambda v: v["type"] == "query")["definition"] = "label_values(up, job)"


# Each break, and what tsc says of it.
BREAKS = {
    "link-without-type": (_link_without_type, "Property 'type' is missing"),
    "annotation-expr": (_annotation_expr_at_top_level, "'\"expr\"' does not exist"),
    "threshold-mode": (_misspelt_threshold_mode, "Type '\"absolut\"' is not assignable"),
    "variable-definition": (_unknown_variable_field, "'\"definition\"' does not exist"),
}


def test_check_reports_each_broken_copy(tmp_path):
    overview = json.loads((DASHBOARD_DIR / "overview.json").read_text())
    files = {"intact": tmp_path / "intact.json"}
    files["intact"].write_text(json.dumps(overview, indent=2))
    for name, (breaks, _) in BREAKS.items():
        dash = json.loads(json.dumps(overview))
        breaks(dash)
        files[name] = tmp_path / f"{name}.json"
        files[name].write_text(json.dumps(dash, indent=2))

    proc = run_check(*map(str, files.values()), cwd=tmp_path)
    errors = error_lines(proc)
    assert proc.returncode == 1, f"{proc.stdout}{proc.stderr}"
    assert not [e for e in errors if e.startswith("intact.json:")], errors
    for name, (_, message) in BREAKS.items():
        found = [e for e in errors if e.startswith(f"{name}.json:")]
        assert len(found) == 1 and message in found[0], (name, errors)
        # The line tsc names is the JSON file's own: the broken object starts there.
        line = int(found[0].split(":")[1])
        assert 1 < line <= len(files[name].read_text().splitlines()), found
    assert f"{len(BREAKS)} error(s)" in proc.stdout


@pytest.mark.parametrize("args, message", [
    (["no-such-dashboard.json"], "cannot read"),
    (["--strict"], "unknown option"),
])
def test_bad_input_is_a_usage_error(args, message):
    proc = run_check(*args)
    assert proc.returncode == 2 and message in proc.stderr and "usage:" in proc.stderr, proc.stderr
    assert "    at " not in proc.stderr, "a usage error, not a stack trace"


def test_a_file_that_is_not_json_is_a_usage_error(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    proc = run_check(str(bad))
    assert proc.returncode == 2 and "not JSON" in proc.stderr and "    at " not in proc.stderr, proc.stderr
