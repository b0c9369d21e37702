"""benchmarks/capacity.py's own logic: the interleaved order, reading a step load's capacity.json (as
loadtests/_shapes.py writes it), medians and the ratio instrumented / bare, the printed table."""
from __future__ import annotations

import pytest

from benchmarks import capacity


def shape_result(users, rps, stopped="at 100 users courses:course-list (average 210 ms >= target 200 ms)"):
    """What StepLoadShape._finish writes to capacity.json (loadtests/_shapes.py)."""
    steps = [{"step": 1, "users": 25, "window_s": 20.0, "rps": 5.1, "endpoints": {}, "at_target": True}]
    if users:
        steps.append({"step": 2, "users": users, "window_s": 20.0, "rps": rps, "endpoints": {}, "at_target": True})
    return {"capacity_users": users, "capacity_rps": rps, "stopped_because": stopped, "summary": "...",
            "steps": steps}


def test_runs_alternate_so_each_mode_goes_first_as_often():
    assert capacity.run_order(1) == ["instrumented", "bare"]
    assert capacity.run_order(2) == ["instrumented", "bare", "bare", "instrumented"]
    assert capacity.run_order(3)[4:] == ["instrumented", "bare"]


def test_capacity_json_is_read_and_none_found_counts_as_zero():
    assert capacity.parse_capacity(shape_result(75, 14.2)) == {
        "users": 75, "rps": 14.2, "found": True, "steps": 2, "peak_users": 75,
        "stopped_because": "at 100 users courses:course-list (average 210 ms >= target 200 ms)"}
    none = capacity.parse_capacity(shape_result(None, None, "at 25 users accounts:me (1/5 failed)"))
    assert (none["users"], none["rps"], none["found"]) == (0, 0.0, False)
    for bad in ({}, {"capacity_users": 3}, [], {"steps": []}):
        with pytest.raises(ValueError):
            capacity.parse_capacity(bad)


def run(mode, users, rps):
    return {"mode": mode, "result": capacity.parse_capacity(shape_result(users, rps))}


def test_medians_per_mode_and_the_ratio():
    runs = [run("instrumented", 150, 28.0), run("bare", 175, 33.0), run("bare", 200, 36.0),
            run("instrumented", 175, 31.0), {"mode": "bare", "result": None, "error": "no capacity.json"}]
    summary = capacity.summarize(runs)
    assert summary["medians"]["instrumented"] == {"runs": 2, "users": 162.5, "rps": 29.5}
    assert summary["medians"]["bare"] == {"runs": 2, "users": 187.5, "rps": 34.5}
    assert summary["ratio"] == {"users": round(162.5 / 187.5, 3), "rps": round(29.5 / 34.5, 3)}
    # Nothing to divide by: no ratio, not a crash or an infinity.
    assert capacity.summarize([run("instrumented", 50, 9.0), run("bare", None, None)])["ratio"] == {
        "users": None, "rps": None}
    assert capacity.summarize([run("instrumented", 50, 9.0)])["medians"]["bare"] is None


def test_the_table_shows_every_run_the_medians_the_ratio_the_load_and_the_machine():
    runs = [run("instrumented", 150, 28.0), run("bare", 175, 33.0),
            {"mode": "bare", "result": None, "error": "no capacity.json (...)"}]
    report = {"stack_mode": "production", "seed_size": "medium", "runs": runs, "summary": capacity.summarize(runs),
              "args": {"step_users": 25, "step_seconds": 30.0, "step_window": 20.0, "step_max_users": 300},
              "loadavg_start": "0.31 0.40 0.52", "loadavg_end": "2.10 1.20 0.80",
              "machine": {"nproc": 2, "model": "AMD EPYC 7B13"}}
    table = capacity.render_table(report)
    lines = table.splitlines()
    assert lines[0].startswith("Capacity at target, production settings, medium data: step 25 users / 30 s")
    assert any(line.split()[:4] == ["1", "instrumented", "150", "28.0"] for line in lines)
    assert any(line.split()[:4] == ["2", "bare", "175", "33.0"] for line in lines)
    assert any(line.split()[:3] == ["3", "bare", "-"] and "failed: no capacity.json" in line for line in lines)
    assert "ratio instrumented / bare: users 0.86, req/s 0.85" in table
    assert "load average at start 0.31 0.40 0.52, at end 2.10 1.20 0.80; machine: 2 CPUs, AMD EPYC 7B13" in table


def test_each_step_load_is_bounded_in_users_and_time():
    class Args:
        step_users, step_seconds, step_window, step_max_users, spawn_rate = 25, 30.0, 20.0, 75, 5.0

    argv = capacity.locust_argv("http://127.0.0.1:1", capacity.ROOT / "reports", Args)
    assert argv[argv.index("--step-max-users") + 1] == "75" and "--headless" in argv
    assert capacity.run_bound_seconds(Args) == 3 * 30 + capacity.LOCUST_START_SECONDS
