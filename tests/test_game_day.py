"""The game day's short variant (issue 16): the whole stack up on free ports with its own PostgreSQL and Redis,
scrapes and rule evaluations every second (make up: 5 s), Locust load throughout, three faults and a two-minute
soak, as `make game-day GAME_DAY_ARGS="--only worker-kill prometheus-restart database-slow --soak 2"` runs
them.  The rules, their windows and `for:` are the committed ones.

- a gunicorn worker SIGKILLed: no page, no failed request, the counts agree;
- Prometheus restarted: no page, data from before the restart still queryable;
- a query slower than the guide's 500 ms: DatabaseIssues pages, and resolves;
- two minutes of load alone: no page but the heartbeat;
and `make status` the same before and after.  About 12 minutes.
"""
from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

import pytest

from tests.fixtures.servers import free_port
from tests.fixtures.stack import marked_processes, stack, stack_environment

pytestmark = pytest.mark.slow

FAULTS = ["worker-kill", "prometheus-restart", "database-slow"]
SOAK_MINUTES = 2
BOUND_SECONDS = 25 * 60


@pytest.fixture
def run_dir():
    # Not under pytest's tmp_path (private to root): the stack's PostgreSQL may run as another account.
    base = Path(tempfile.mkdtemp(prefix="studio-game-day-"))
    base.chmod(0o755)
    yield base / "stack"
    shutil.rmtree(base, ignore_errors=True)


@pytest.mark.timeout(BOUND_SECONDS + 600)
def test_the_short_game_day_passes_and_leaves_the_stack_as_it_was(run_dir):
    env, _ = stack_environment(run_dir, instances=1, STACK_POSTGRES="1", STACK_POSTGRES_PORT=str(free_port()))
    env.pop("DATABASE_URL")
    try:
        up = stack(env, "up", timeout=300)
        assert up.returncode == 0, up.stdout[-3000:] + up.stderr[-3000:]
        assert "postgres" in up.stdout and "redis" in up.stdout
        out = run_dir.parent / "reports"
        day = stack(env, "game-day", "--only", *FAULTS, "--soak", str(SOAK_MINUTES), "--users", "5",
                    "--margin", "30", "--settle", "10", "--out", str(out), timeout=BOUND_SECONDS)
        print(day.stdout[-6000:], day.stderr[-3000:])
        (report_dir,) = out.iterdir()
        report = json.loads((report_dir / "report.json").read_text())
        results = {r["name"]: r for r in report["results"]}
        assert list(results) == [*FAULTS, "soak"]
        for name, result in results.items():
            assert result["passed"], (name, [what for what, ok in result["checks"] if not ok], result)
        assert results["database-slow"]["paged"].keys() == {"DatabaseIssues"}
        assert results["database-slow"]["resolved_after_recovery"] is not None
        for name in ("worker-kill", "prometheus-restart", "soak"):
            assert results[name]["paged"] == {}, name
            assert results[name]["counted_by_prometheus"] is not None
        assert results["worker-kill"]["failed_requests"] == 0
        assert report["status_identical"]
        assert day.returncode == 0
        assert "| database-slow | DatabaseIssues | DatabaseIssues" in (report_dir / "report.md").read_text()
    finally:
        stack(env, "down", timeout=120)
    assert marked_processes(run_dir) == []
