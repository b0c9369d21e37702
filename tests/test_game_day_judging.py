"""How the game day attributes alerts (stack/gameday/observe.py): the error-budget alerts whose long window spans
hours average every fault of a run, whose outages spend real budget, so they are the run's, reported apart;
the fast burn and every other alert are the fault's."""
from __future__ import annotations

import yaml

from stack.gameday.observe import spans_the_run
from stack.gameday.run import RULES


def alerting_rules() -> list[dict]:
    return [r for g in yaml.safe_load(RULES.read_text())["groups"] for r in g["rules"] if "alert" in r]


def test_only_the_budget_alerts_over_hours_belong_to_the_run():
    run_level = {(r["alert"], r["labels"].get("long")) for r in alerting_rules()
                 if spans_the_run({"alertname": r["alert"], **r["labels"]})}
    assert ("AvailabilityErrorBudgetBurn", "6h") in run_level
    assert ("AvailabilityErrorBudgetBurn", "1d") in run_level
    assert ("AvailabilityErrorBudgetBurn", "1h") not in run_level  # the fast burn is a fault's
    assert {name for name, _ in run_level} <= {"AvailabilityErrorBudgetBurn", "LatencyErrorBudgetBurn"}
    for guide in ("ErrorSpike", "SlowTransactions", "HighErrorRate", "DatabaseIssues", "RedisDown"):
        assert not any(name == guide for name, _ in run_level), guide


def test_a_window_is_read_as_a_duration_not_a_string():
    assert spans_the_run({"slo": "availability", "long": "360m"})
    assert not spans_the_run({"slo": "availability", "long": "359m"})
    assert not spans_the_run({"long": "3d"})  # not an SLO alert


def test_locust_totals_are_read_between_rows_and_only_once_the_file_reaches_the_moment(tmp_path):
    """Locust writes its history through a buffer, seconds behind: read at a moment past the last row, the total
    would be the last row's, short by the traffic still buffered (Prometheus then counted ~20 more)."""
    from stack.gameday.observe import LocustTotals

    history = tmp_path / "locust_stats_history.csv"
    header = "Timestamp,User Count,Type,Name,Total Request Count,Total Failure Count\n"
    history.write_text(header + "100,5,,Aggregated,70,1\n101,5,GET,courses,30,0\n102,5,,Aggregated,84,3\n")
    totals = LocustTotals(history)
    assert totals.at(101) == (77.0, 2.0)  # halfway between the Aggregated rows
    assert totals.covers(101.5) and not totals.covers(102)
    assert totals.at(105) == (84.0, 3.0)  # past the last row: what count() must not read before covers()


def test_a_page_of_the_runs_spent_budget_is_not_the_faults():
    """worker-stop paged AvailabilityErrorBudgetBurn (6h window) 512 s in: database-down's 503s had spent the
    budget.  It fired only as a run-level series, so it is the run's; the fault is judged on the rest."""
    from stack.gameday.observe import split_pages

    paged = {"AvailabilityErrorBudgetBurn": 512.0, "CeleryQueueBacklog": 609.0, "TargetDown": 129.0}
    fired = {"CeleryQueueBacklog": 604.0, "TargetDown": 124.0}
    fault, run = split_pages(paged, fired, {"AvailabilityErrorBudgetBurn"})
    assert fault == {"CeleryQueueBacklog": 609.0, "TargetDown": 129.0}
    assert run == {"AvailabilityErrorBudgetBurn": 512.0}
    # The fast burn (1h) fired as the fault's own: its page stays the fault's, to be judged.
    fired["AvailabilityErrorBudgetBurn"] = 300.0
    fault, run = split_pages(paged, fired, {"AvailabilityErrorBudgetBurn"})
    assert "AvailabilityErrorBudgetBurn" in fault and not run
    # An alert with no run-level series is never excused.
    fault, run = split_pages({"ErrorSpike": 40.0}, {}, {"AvailabilityErrorBudgetBurn"})
    assert fault == {"ErrorSpike": 40.0} and not run
