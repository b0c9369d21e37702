"""How the game day attributes alerts (stack/gameday/observe.py): the error-budget alerts whose long window spans
hours average every fault of a run, whose outages spend real budget, so they are the run's, reported apart;
the fast burn and every other alert are the fault's."""
from __future__ import annotations

import json

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


def _results():
    from stack.gameday.run import Result

    drawn = Result("kill-worker", "a gunicorn worker killed", ["ErrorSpike"], started_at=1000.0, ended_at=1300.0,
                   snapshot="snapshots/kill-worker/overview.png", passed=True)
    lost = Result("slow-query", "a slow query", ["DatabaseIssues"], started_at=2000.0, ended_at=2300.0,
                  snapshot="snapshots/slow-query/overview.png")  # named, but the file is not there
    skipped = Result("redis-down", "Redis stopped", ["RedisDown"], skipped="the stack reuses a shared Redis")
    return drawn, lost, skipped


def test_the_report_links_a_faults_overview_picture_when_it_exists(tmp_path):
    import json
    from types import SimpleNamespace

    from stack.gameday import report

    drawn, lost, skipped = _results()
    (tmp_path / drawn.snapshot).parent.mkdir(parents=True)
    (tmp_path / drawn.snapshot).write_bytes(b"\x89PNG\r\n\x1a\n")
    report.write(tmp_path, [drawn, lost, skipped], 0.0, SimpleNamespace(users=5, margin=30.0), True)
    lines = {line.split("**")[1]: line for line in (tmp_path / "report.md").read_text().splitlines()
             if line.startswith("- **")}
    assert f"[{drawn.snapshot}]({drawn.snapshot})" in lines["kill-worker"]
    assert "overview.png" not in lines["slow-query"] and "overview.png" not in lines["redis-down"]
    saved = {r["name"]: r for r in json.loads((tmp_path / "report.json").read_text())["results"]}
    assert saved["kill-worker"]["snapshot"] == drawn.snapshot
    assert (saved["kill-worker"]["started_at"], saved["kill-worker"]["ended_at"]) == (1000.0, 1300.0)


def test_a_snapshot_that_cannot_be_drawn_never_fails_the_game_day(tmp_path):
    from stack.gameday import snapshots
    from tests.fixtures.servers import free_port

    results = list(_results())
    for r in results:
        r.snapshot = ""
    said: list[str] = []
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens
    assert snapshots.attach(results, url, tmp_path, log=said.append) == 0
    assert len(said) == 1 and url in said[0]
    assert all(r.snapshot == "" for r in results) and not (tmp_path / "snapshots").exists()


def test_a_spike_waits_for_traffic_that_keeps_it_under_half_the_high_error_rate():
    """prometheus-replica-down, run first (--only, 10 users): its 12 errors came into a window of a young stack's
    few requests, and HighErrorRate fired (truly) and failed the fault.  The fault now waits for the window to
    hold 12 / (5 % / 2) = 480 requests first; the faults that send a spike are marked."""
    import monitoring_spec as spec
    from stack.gameday.faults import FAULTS
    from stack.gameday.observe import spike_traffic

    assert spike_traffic(12, 0.05) == 480
    needed = spike_traffic(spec.ERROR_SPIKE_MIN_ERRORS + 2, spec.HIGH_ERROR_RATE_RATIO)
    assert (spec.ERROR_SPIKE_MIN_ERRORS + 2) / needed < spec.HIGH_ERROR_RATE_RATIO
    spiking = {f.name for f in FAULTS.values() if "ErrorSpike" in f.expect(spec)} | {"scrape-gap"}
    assert {f.name for f in FAULTS.values() if f.spike} == spiking


def test_an_alert_notified_shortly_before_a_fault_is_found_firing_or_resolved(tmp_path):
    """alertmanager-member-down right after prometheus-replica-down paged ErrorSpike 299 s in, not ~20 s: the
    earlier fault's ErrorSpike group had sent its resolution 1 s before, and the new firing waited for that
    group's next group_interval tick.  The game day says so in the fault's notes."""
    from stack.gameday.observe import last_notified

    store = tmp_path / "pages.jsonl"
    lines = [{"received_at": 100.0, "receiver": "slack", "body": {"text": "[FIRING:1] ErrorSpike (warning)"}},
             {"received_at": 400.0, "receiver": "email", "body": "[RESOLVED] ErrorSpike (warning)"},
             {"received_at": 450.0, "receiver": "email", "body": "[FIRING:2] HighErrorRate (critical)"}]
    store.write_text("".join(json.dumps(line) + "\n" for line in lines))
    assert last_notified(store, "ErrorSpike", 1000) == 400.0
    assert last_notified(store, "ErrorSpike", 300) == 100.0
    assert last_notified(store, "ErrorSpikeX", 1000) is None and last_notified(store, "TargetDown", 1000) is None
    assert last_notified(tmp_path / "missing.jsonl", "ErrorSpike", 1000) is None


def test_a_fault_waits_until_every_resolution_reached_its_receivers(tmp_path):
    """alertmanager-member-down started while prometheus-replica-down's ErrorSpike was resolved in Prometheus but
    its resolution not yet sent: the new spike was, to Alertmanager, the same alert still firing, and no page
    came in 390 s.  unresolved() is what the game day now waits on."""
    from stack.gameday.observe import unresolved

    store = tmp_path / "pages.jsonl"

    def page(at, receiver, text):
        with store.open("a") as fh:
            fh.write(json.dumps({"received_at": at, "receiver": receiver, "body": {"text": text}}) + "\n")

    assert unresolved(store) == set()
    page(1, "slack", "[FIRING:1] ErrorSpike (warning)")
    page(1, "email", "[FIRING:1] ErrorSpike (warning)")
    page(2, "deadmansswitch", "[FIRING:1] Watchdog (none)")
    assert unresolved(store) == {("slack", "ErrorSpike"), ("email", "ErrorSpike")}
    page(3, "slack", "[RESOLVED] ErrorSpike (warning)")
    assert unresolved(store) == {("email", "ErrorSpike")}
    page(4, "email", "[RESOLVED] ErrorSpike (warning)")
    page(5, "pagerduty", "[FIRING:2] HighErrorRate (critical)")
    assert unresolved(store) == {("pagerduty", "HighErrorRate")}
