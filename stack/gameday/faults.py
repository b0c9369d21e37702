"""The game day's faults: what each breaks, how it recovers, and which of the spec's alerts must page.

Each fault is a function of the running game day (`GameDay`, stack/gameday/run.py): it breaks something,
marks the moment (`gd.mark_fault()`), recovers (`gd.mark_recovered()`), and returns.  The alerts it expects
come from the spec (monitoring_spec) and the bound on their page is window + `for:` + the run's margin.
"""
from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from types import ModuleType

from monitoring_spec.promql import duration_seconds


@dataclass(frozen=True)
class Fault:
    name: str
    summary: str
    act: Callable  # act(gd): break, mark, recover
    expect: Callable[[ModuleType], frozenset[str]] = lambda t: frozenset()
    # Alerts that may page too, not must: the availability SLO's fast burn is true of a full outage of a
    # minute or two, but whether it pages depends on how much traffic the last hour held (a young stack
    # has little, so a short burst is a large share of it).
    allowed: frozenset[str] = frozenset()
    needs: str = ""  # "own_postgres" | "own_redis": the stack must run its own (never the machine's shared one);
    # "ha": the stack runs two Prometheus replicas and two Alertmanagers (STACK_HA=1)
    page_from_recovery: bool = False  # the page is due after recovery (Alertmanager was down), not after the fault
    notes: tuple[str, ...] = field(default_factory=tuple)
    # Alerts whose page must reach each of their severity's receivers exactly once: a restart must not page
    # again for the same burst, two replicas and two Alertmanagers must not page twice.
    once: frozenset[str] = frozenset()
    spike: bool = False  # it sends an error spike: the window must first hold traffic enough (traffic_for_a_spike)


def worker_kill(gd) -> None:
    master = gd.processes.group("app")
    workers = gd.processes.children(master)
    gd.mark_fault(f"SIGKILL to gunicorn worker {workers[0]} of {len(workers)}")
    os.kill(workers[0], signal.SIGKILL)
    gd.processes.wait_for(lambda: len(gd.processes.children(master)) >= len(workers), 30)
    gd.mark_recovered("gunicorn respawned the worker")
    time.sleep(gd.settle)


def scrape_gap(gd) -> None:
    gd.error_burst_that_resolves()
    stall = max(30.0, 4 * gd.scrape_seconds)
    gd.mark_fault(f"app stopped (SIGSTOP) for {stall:.0f}s: its scrapes fail")
    gd.processes.signal("app", signal.SIGSTOP)
    try:
        time.sleep(stall)
    finally:
        gd.processes.signal("app", signal.SIGCONT)
    gd.mark_recovered("SIGCONT")
    time.sleep(gd.window_seconds + gd.scrape_seconds * 3)  # the old rules paged about 290 s after a gap


def restart_mid_burst(gd) -> None:
    half = gd.spec.ERROR_SPIKE_MIN_ERRORS // 2 + 1
    gd.mark_fault(f"{half} errors, the app restarted, {half} more errors")
    gd.errors(half)
    gd.processes.wait_for(lambda: (gd.prometheus.value(gd.names.errors) or 0) >= half, 60)
    gd.processes.restart("app")
    gd.wait_app_ready()
    served = gd.errors(half)
    gd.passed_if(served == half, f"the {half} errors after the restart were served by the new process")
    gd.mark_recovered("the burst is over")


def redis_down(gd) -> None:
    hold = duration_seconds(gd.for_of("RedisDown")) + gd.margin
    gd.mark_fault(f"Redis stopped for {hold:.0f}s (RedisDown's for: plus the margin)")
    gd.processes.hold("redis")
    time.sleep(hold)
    gd.processes.release("redis")
    gd.processes.wait_for(gd.redis_answers, 60)
    gd.mark_recovered("Redis answers again")


def database_down(gd) -> None:
    hold = 60 + duration_seconds(gd.for_of("HighErrorRate"))
    gd.mark_fault(f"PostgreSQL stopped for {hold:.0f}s")
    gd.processes.hold("postgres")
    time.sleep(hold)
    gd.processes.release("postgres")
    gd.processes.wait_for(gd.database_answers, 60)
    gd.mark_recovered("PostgreSQL answers again")


def worker_stop(gd) -> None:
    backlog = gd.spec.CELERY_QUEUE_BACKLOG + 20
    before = gd.tasks_succeeded("drills.noop")
    gd.mark_fault(f"Celery worker stopped, {backlog} tasks queued")
    gd.processes.hold("worker")
    gd.request(f"/_drill/enqueue/?n={backlog}")
    gd.wait_paged({"CeleryQueueBacklog"}, duration_seconds(gd.for_of("CeleryQueueBacklog")) + gd.window_seconds
                  + gd.margin)
    gd.processes.release("worker")
    gd.mark_recovered("worker started again")
    done = gd.processes.wait_for(lambda: gd.tasks_succeeded("drills.noop") - before >= backlog, 180, every=2)
    gd.note(f"tasks queued while the worker was down: {backlog}, run after it came back: "
            f"{gd.tasks_succeeded('drills.noop') - before:.0f}" + ("" if done else " (TASKS LOST)"))
    gd.passed_if(done, "every queued task ran after the restart")


def alertmanager_down(gd) -> None:
    gd.mark_fault("Alertmanager stopped; then an error spike")
    gd.processes.hold("alertmanager")
    gd.error_spike()
    gd.processes.wait_for(lambda: "ErrorSpike" in gd.prometheus.firing(), 60)
    time.sleep(gd.settle)
    gd.processes.release("alertmanager")
    gd.processes.wait_for(gd.alertmanager_ready, 60)
    gd.mark_recovered("Alertmanager started again")


def prometheus_restart(gd) -> None:
    probe = 'up{job="studio-app"}'
    before_at = time.time() - 2 * gd.scrape_seconds
    gd.mark_fault("Prometheus restarted during steady load")
    gd.processes.restart("prometheus")
    gd.processes.wait_for(gd.prometheus.ready, 120)
    gd.mark_recovered("Prometheus ready again")
    kept = gd.prometheus.value(probe, at=before_at) is not None
    gd.note(f"a sample from before the restart is {'still' if kept else 'NOT'} queryable")
    gd.passed_if(kept, "data from before the restart is kept")
    time.sleep(gd.window_seconds / 2)


def prometheus_replica_down(gd) -> None:
    # Replica b, not a: the game day reads replica a (state.json's prometheus_url) throughout.
    gd.mark_fault("Prometheus replica b stopped; then an error spike")
    gd.processes.hold("prometheus2")
    try:
        gd.error_spike()
        gd.processes.wait_for(lambda: "ErrorSpike" in gd.prometheus.firing(), 60)
        # Kept down until the page is out: it must come from replica a alone.
        gd.processes.wait_for(lambda: gd.paged_since("ErrorSpike"), gd.window_seconds + 60, every=1)
    finally:
        gd.processes.release("prometheus2")
    gd.processes.wait_for(lambda: gd.service_ready("prometheus2"), 120)
    gd.mark_recovered("replica b started again")


def alertmanager_member_down(gd) -> None:
    gd.mark_fault("Alertmanager 1 of 2 stopped; then an error spike")
    gd.processes.hold("alertmanager")
    try:
        gd.error_spike()
        paged = gd.processes.wait_for(lambda: gd.paged_since("ErrorSpike"), gd.window_seconds + 90, every=1)
        gd.passed_if(paged, "paged through the other Alertmanager while one was down")
        time.sleep(gd.settle)
    finally:
        gd.processes.release("alertmanager")
    gd.processes.wait_for(gd.alertmanager_ready, 60)
    rejoined = gd.processes.wait_for(lambda: gd.cluster_sizes() == [2, 2], 60)
    gd.passed_if(rejoined, "it rejoined: both Alertmanagers see 2 cluster members")
    gd.mark_recovered("Alertmanager 1 started again" + ("" if rejoined else f", members {gd.cluster_sizes()}"))


def database_slow(gd) -> None:
    ms = int(gd.spec.DB_SLOW_QUERY_SECONDS * 1000) + 150
    gd.mark_fault(f"one query of {ms} ms (pg_sleep)")
    gd.request(f"/_drill/db-slow/?ms={ms}")
    gd.mark_recovered("the query is over")


SLO_FAST_BURN = frozenset({"AvailabilityErrorBudgetBurn"})
# A member held down past their for: pages about itself; a short hold does not (prometheus/rulesets/meta.py).
HA_MEMBER_ALERTS = frozenset({"PrometheusReplicaMissing", "AlertmanagerClusterMemberMissing", "TargetDown"})

FAULTS: dict[str, Fault] = {f.name: f for f in (
    Fault("worker-kill", "a gunicorn worker SIGKILLed under load", worker_kill),
    Fault("scrape-gap", "the app's scrapes fail for 30 s, after an error burst has resolved", scrape_gap,
          spike=True),
    Fault("restart-mid-burst", "the app restarted in the middle of an error burst", restart_mid_burst,
          lambda t: frozenset({"ErrorSpike"}), allowed=SLO_FAST_BURN, once=frozenset({"ErrorSpike"}), spike=True),
    Fault("redis-down", "Redis stopped past RedisDown's for:", redis_down, lambda t: frozenset({"RedisDown"}),
          needs="own_redis"),
    Fault("database-down", "PostgreSQL unreachable for a minute and more", database_down,
          lambda t: frozenset({"HighErrorRate"}), needs="own_postgres", allowed=SLO_FAST_BURN),
    Fault("worker-stop", "the Celery worker stopped while tasks are queued", worker_stop,
          lambda t: frozenset({"CeleryQueueBacklog", "TargetDown"})),
    Fault("alertmanager-down", "Alertmanager stopped while an alert starts firing, then restarted",
          alertmanager_down, lambda t: frozenset({"ErrorSpike"}), page_from_recovery=True, allowed=SLO_FAST_BURN,
          spike=True),
    Fault("prometheus-restart", "Prometheus restarted during steady load", prometheus_restart),
    Fault("prometheus-replica-down", "one of two Prometheus replicas down while an alert starts firing",
          prometheus_replica_down, lambda t: frozenset({"ErrorSpike"}), needs="ha",
          allowed=SLO_FAST_BURN | HA_MEMBER_ALERTS, once=frozenset({"ErrorSpike"}), spike=True),
    Fault("alertmanager-member-down", "one of two clustered Alertmanagers down while an alert starts firing",
          alertmanager_member_down, lambda t: frozenset({"ErrorSpike"}), needs="ha",
          allowed=SLO_FAST_BURN | HA_MEMBER_ALERTS, once=frozenset({"ErrorSpike"}), spike=True),
    Fault("database-slow", "a query slower than the guide's 500 ms", database_slow,
          lambda t: frozenset({"DatabaseIssues"})),
)}
