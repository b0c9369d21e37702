"""manage.py benchmark: in-process timings of the target table's endpoints, graded from the spec."""
from __future__ import annotations

import io
import json

import pytest
from django.core.management import ManagementUtility, call_command
from django.core.management.base import CommandError

import monitoring_spec as spec

pytestmark = pytest.mark.django_db


@pytest.fixture
def seeded():
    call_command("seed_data", size="small", stdout=io.StringIO())


def benchmark(*args, **options) -> str:
    out = io.StringIO()
    call_command("benchmark", *args, stdout=out, stderr=io.StringIO(), **options)
    return out.getvalue()


def test_every_endpoint_is_timed_and_graded(seeded):
    out = benchmark("--iterations", "2")
    assert "2 iterations per endpoint" in out
    lines = out.splitlines()
    for target in spec.TARGETS:
        row = next(line for line in lines if line.startswith(target.name + " "))
        assert row.endswith(spec.GRADES), row
        assert f"<{target.target_ms}" in row and f">{target.needs_work_ms}" in row
    assert "/api/v1/courses/course-" in out and "/profile/" in out


def test_verbose_warm_and_clear_cache(seeded):
    out = benchmark("--iterations", "2", "--verbose", "--clear-cache", "--warm-cache")
    assert "cleared, warmed" in out
    for target in spec.TARGETS:
        assert sum(1 for line in out.splitlines() if line.strip().startswith(target.view)) == 2
    assert "HTTP 200" in out and "queries" in out


def test_output_then_compare_round_trip(seeded, tmp_path):
    baseline = tmp_path / "nested" / "baseline.json"
    benchmark("--iterations", "2", "--output", str(baseline))
    data = json.loads(baseline.read_text())
    assert data["iterations"] == 2 and set(data["results"]) == {t.key for t in spec.TARGETS}
    for row in data["results"].values():
        assert row["requests"] == 2 and row["grade"] in spec.GRADES
        assert row["min_ms"] <= row["avg_ms"] <= row["max_ms"] and row["p95_ms"] is not None
    out = benchmark("--iterations", "2", "--compare", str(baseline))
    assert "Change against the baseline of " + data["created_at"] in out
    for target in spec.TARGETS:
        assert any(line.startswith(target.name) and "%" in line for line in out.splitlines()[-6:])


def test_no_seeded_data_is_a_clear_error():
    with pytest.raises(CommandError, match="no seeded data.*seed_data"):
        benchmark("--iterations", "1")


@pytest.mark.parametrize("content", ["{not json", "[]", '{"results": {"course_list": {"avg_ms": "fast"}}}',
                                     '{"results": {}}'])
def test_compare_with_a_corrupt_file_is_a_command_error(tmp_path, content):
    path = tmp_path / "baseline.json"
    path.write_text(content)
    with pytest.raises(CommandError, match="is not a benchmark baseline"):
        benchmark("--compare", str(path))


def test_compare_with_a_missing_file_is_a_command_error(tmp_path):
    with pytest.raises(CommandError, match="does not exist"):
        benchmark("--compare", str(tmp_path / "nope.json"))


@pytest.mark.parametrize("value", ["0", "-3", "abc", "1.5"])
def test_bad_iterations_is_a_usage_error(value, capsys):
    # As from the command line (manage.py): argparse prints the usage and exits 2, no traceback.
    with pytest.raises(SystemExit) as exc:
        ManagementUtility(["manage.py", "benchmark", "--iterations", value]).execute()
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: manage.py benchmark") and "--iterations" in err and "Traceback" not in err


def test_unknown_flag_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exc:
        ManagementUtility(["manage.py", "benchmark", "--iterationz", "3"]).execute()
    assert exc.value.code == 2
    assert "unrecognized arguments" in capsys.readouterr().err
