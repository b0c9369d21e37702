"""The monitoring spec: every target, threshold and name the rest of the project is generated from.

Plain Python (no Django, no third-party import), installed with the project, imported by name by the
Django app, the rule, dashboard and Alertmanager generators, the Locust grading, the benchmark, the
stack and the tests.  No other file writes these numbers down.

    targets    the guide's target table and grading           (Locust, benchmark, dashboards, rules)
    alerts     alert thresholds and `for:` durations          (rules, dashboards, fire drill)
    buckets    histogram bucket edges (every target is one)   (the app's metrics, rules, dashboards)
    slo        objectives and burn-rate windows               (rules, dashboards)
    routing    severity -> channels, receivers, secrets       (rules' labels, Alertmanager, check_monitoring)
    contract   jobs, metric names, dashboard uids, link URLs  (everything that names a series or a page)
    promql     PromQL spelling shared by rules and dashboards
    artifacts  the write / --check routine of every generator

The numbers (targets, alerts, buckets, slo) are also this package's own names, so a generator can take
the whole spec as one namespace (`import monitoring_spec as spec; spec.ERROR_SPIKE_MIN_ERRORS`), and a
test can hand it a perturbed copy to prove no number is copied elsewhere.
"""
from monitoring_spec.alerts import *  # noqa: F403
from monitoring_spec.buckets import *  # noqa: F403
from monitoring_spec.slo import *  # noqa: F403
from monitoring_spec.targets import *  # noqa: F403
