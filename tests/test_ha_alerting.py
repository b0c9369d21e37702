"""STACK_HA end to end: two Prometheus replicas (a, b), each sending every alert to both members of an
Alertmanager cluster (am1, am2), the app under gunicorn and the local page sinks.

What high availability must not cost: a page more than one (the replicas' alerts are the same alert, the
cluster shares one notification log), and what it must buy: the pages still come, once, with one Prometheus
or one Alertmanager gone; a silence set on one member holds on the other; and the dead-man's switch hears
from every member, so that the loss of one is noticed.  The guide's alerts' `for:` is shortened to 2 s and
the drills are the fire drill's own (observability/management/commands/fire_drill.py); the Alertmanagers
keep their default peer timeout (15 s), so the figures printed are the ones a real cluster would show.
"""
from __future__ import annotations

import collections
import json
import re
import time
import urllib.request

import pytest
import yaml

from observability.management.commands.fire_drill import recent_requests
from observability.management.commands.fire_drill import run as fire_drill
from stack.sinks import firing_alerts
from tests.fixtures.monitoring import shortened_rules

GUIDE_ALERTS = ("ErrorSpike", "SlowTransactions", "HighErrorRate", "DatabaseIssues")
# The guide's table (as in test_alerting_e2e): drill -> its alert and who is paged.
EXPECTED = {
    "error-spike": ("ErrorSpike", ("email", "slack")),
    "slow": ("SlowTransactions", ("email",)),
    "db-slow": ("DatabaseIssues", ("email",)),
    "error-rate": ("HighErrorRate", ("email", "slack", "pagerduty")),
}
PEER_TIMEOUT_SECONDS = 15  # Alertmanager's default --cluster.peer-timeout: the second member's delay
GROUP_WAIT_SECONDS = 1
# After a page, as long as a duplicate could take: the later member waits a peer timeout before it looks
# in the shared notification log, then its own group_wait; and a margin for gossip and a loaded machine.
DUPLICATE_WINDOW = PEER_TIMEOUT_SECONDS + GROUP_WAIT_SECONDS + 3
# A lone Alertmanager has no one to duplicate; what could still repeat is the group itself, within a few seconds.
LONE_WINDOW = 5
PAGE_BOUND_SECONDS = 60


def page_counts(pages: list[dict]) -> collections.Counter:
    """(receiver, alertname) -> how many pages announced it firing; the dead-man's switch aside."""
    counts = collections.Counter()
    for page in pages:
        if page["receiver"] != "deadmansswitch":
            counts.update((page["receiver"], name) for name in firing_alerts(page))
    return counts


def wanted(drill: str) -> set[tuple[str, str]]:
    alert, receivers = EXPECTED[drill]
    return {(receiver, alert) for receiver in receivers}


def drill(name: str, app, prometheus_url: str) -> float:
    """The fire drill (its requests through the real app); when it started."""
    started = time.monotonic()
    recent = recent_requests(prometheus_url) if name in ("error-rate", "slow") else 0.0
    statuses = fire_drill(name, app.base_url, recent=recent)
    assert 404 not in statuses, statuses
    return started


def wait_for_pages(ha, keys: set[tuple[str, str]], started: float) -> dict[tuple[str, str], float]:
    """Seconds from `started` to the first page of each (receiver, alert) in `keys`; all of them, or fails."""
    arrived: dict[tuple[str, str], float] = {}
    while time.monotonic() < started + PAGE_BOUND_SECONDS and not keys <= set(arrived):
        for key in keys & set(page_counts(ha.sinks.pages)):
            arrived.setdefault(key, time.monotonic() - started)
        time.sleep(0.2)
    assert keys <= set(arrived), (
        f"missing {keys - set(arrived)} within {PAGE_BOUND_SECONDS}s; got {sorted(arrived)}\n"
        f"alerts: {[p.query('ALERTS') for p in ha.prometheus_replicas if p.proc]}\n"
        + "\n".join(am.logs()[-1500:] for am in ha.alertmanagers))
    return arrived


def peer_position(am) -> int:
    """The member's place in the cluster (alertmanager_peer_position): member n waits n peer timeouts
    before it looks in the shared notification log and sends what no one sent."""
    with urllib.request.urlopen(f"{am.url}/metrics", timeout=10) as resp:
        for line in resp.read().decode().splitlines():
            if line.startswith("alertmanager_peer_position "):
                return int(float(line.split()[1]))
    raise AssertionError(f"{am.url}/metrics has no alertmanager_peer_position")


def assert_paged_once(counts: collections.Counter, drill_name: str) -> None:
    """The drilled alert paged each of its receivers once, and nothing paged twice.  Another guide alert may page
    on its own: seen once in a run of this file, a DatabaseIssues page before any db-slow drill of that test
    (cause not found; a real query over 500 ms on the two-core machine is the likely one)."""
    alert = EXPECTED[drill_name][0]
    assert {key: n for key, n in counts.items() if key[1] == alert} == {key: 1 for key in wanted(drill_name)}, \
        dict(counts)
    assert set(counts.values()) <= {1}, f"a duplicate page: {dict(counts)}"
    assert {name for _, name in counts} <= set(GUIDE_ALERTS), dict(counts)


def no_duplicate_within(ha, window: float) -> collections.Counter:
    time.sleep(window)
    return page_counts(ha.sinks.pages)


def test_stack_ha_adds_a_replica_and_a_cluster_member_and_nothing_without_it(tmp_path, monkeypatch):
    from stack import services as svc

    monkeypatch.setattr(svc, "RUN_DIR", tmp_path)
    single = {s.name: s for s in svc.services(svc.StackConfig())}
    assert not {"prometheus2", "alertmanager2"} & set(single)
    assert single["alertmanager"].command.endswith("--cluster.listen-address=")  # clustering off, as before

    cfg = svc.StackConfig(ha=True)
    ha = {s.name: s for s in svc.services(cfg)}
    assert {"prometheus2", "alertmanager2"} <= set(ha)
    assert "--cluster.listen-address=127.0.0.1:9094" in ha["alertmanager"].command
    assert "--cluster.peer=127.0.0.1:9096" in ha["alertmanager"].command
    assert "--cluster.peer=127.0.0.1:9094" in ha["alertmanager2"].command
    assert ha["prometheus2"].target == ["prometheus", "127.0.0.1:9092"]
    assert ha["alertmanager2"].target == ["alertmanager", "127.0.0.1:9095"]
    svc.write_configs(cfg, list(ha.values()))
    for name, replica, peer in (("prometheus", "a", "127.0.0.1:9092"), ("prometheus2", "b", "127.0.0.1:9090")):
        config = yaml.safe_load((tmp_path / f"{name}.yml").read_text())
        assert config["global"]["external_labels"]["replica"] == replica
        assert config["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"] == [
            "127.0.0.1:9093", "127.0.0.1:9095"]
        jobs = {job["job_name"]: job for job in config["scrape_configs"]}
        assert jobs["prometheus-peer"]["static_configs"][0]["targets"] == [peer]
        assert jobs["prometheus-peer"]["params"] == {"match[]": ['ALERTS{alertstate="firing"}']}
    for name, member in (("alertmanager", "am1"), ("alertmanager2", "am2")):
        config = yaml.safe_load((tmp_path / f"{name}.yml").read_text())
        heartbeat = next(r for r in config["receivers"] if r["name"].startswith("deadmansswitch"))
        assert heartbeat["name"] == f"deadmansswitch-{member}"
        assert heartbeat["webhook_configs"][0]["url"].endswith(f"/deadmansswitch?alertmanager={member}")


@pytest.fixture
def app_and_ha(gunicorn_factory, ha_monitoring_factory, tmp_path):
    app = gunicorn_factory(workers=2)
    rules = shortened_rules(tmp_path / "rules", {name: "2s" for name in GUIDE_ALERTS})
    started = time.monotonic()
    ha = ha_monitoring_factory([app.base_url.removeprefix("http://")], rules_dir=rules)
    print(f"\nHA monitoring up (2 Alertmanagers settled, 2 replicas each sending to both) in "
          f"{time.monotonic() - started:.1f}s")
    for prom in ha.prometheus_replicas:  # a baseline for increase() and rate() on both replicas
        prom.wait_until('count_over_time(up{job="studio-app"}[1m]) >= 3')
    return app, ha


@pytest.mark.slow
def test_each_guide_alert_pages_once_through_two_replicas_and_two_alertmanagers(app_and_ha):
    app, ha = app_and_ha
    a, b = ha.prometheus_replicas
    # ErrorSpike first and on its own: HighErrorRate inhibits it (alertmanager/render_config.py).
    arrived = {}
    for group in (["error-spike"], ["slow", "db-slow"], ["error-rate"]):
        started = min(drill(name, app, a.url) for name in group)
        arrived.update(wait_for_pages(ha, set().union(*(wanted(name) for name in group)), started))
    counts = no_duplicate_within(ha, DUPLICATE_WINDOW)
    expected = collections.Counter({key: 1 for name in EXPECTED for key in wanted(name)})
    assert counts == expected, f"pages per (receiver, alert): {dict(counts)}"
    # One alert in each, not the two replicas' copies side by side (the replica label is dropped before sending).
    sizes = {size for page in ha.sinks.pages if page["receiver"] != "deadmansswitch"
             for size in re.findall(r"\[FIRING:(\d+)\]", json.dumps(page))}
    assert sizes == {"1"}, sizes
    # Both replicas evaluated every alert: the single page is deduplication, not one replica being silent.
    for prom in (a, b):
        firing = {r["metric"]["alertname"] for r in prom.query('ALERTS{alertstate="firing"}')}
        assert set(GUIDE_ALERTS) <= firing, (prom.url, firing)
    # The peer job: each replica holds the other's firing alerts as peer_ALERTS, under the other's replica label.
    for prom, peer in ((a, "b"), (b, "a")):
        assert prom.query(f'peer_ALERTS{{alertname="Watchdog", replica="{peer}"}}'), prom.url
        assert not prom.query('ALERTS{replica!=""}'), "the local ALERTS carry no replica label"
    print("pages per alert (receiver: count), 2 replicas x 2 Alertmanagers: " + "; ".join(
        f"{alert} " + ", ".join(f"{r}: {counts[(r, alert)]}" for r in receivers)
        for alert, receivers in EXPECTED.values()))
    print("first page after the drill: " + ", ".join(f"{alert}/{r} {arrived[(r, alert)]:.1f}s"
                                                     for alert, receivers in EXPECTED.values() for r in receivers))

    # d. The dead-man's switch hears from each Alertmanager, by the first heartbeat of each.
    heartbeats = collections.Counter(p.get("alertmanager") for p in ha.sinks.pages
                                     if p["receiver"] == "deadmansswitch")
    assert set(heartbeats) == {"am1", "am2"}, heartbeats
    print(f"dead-man's switch heartbeats by Alertmanager: {dict(heartbeats)}")


@pytest.mark.slow
@pytest.mark.parametrize("stopped", ["a", "b"])
def test_one_prometheus_stopped_the_alert_still_pages_once(app_and_ha, stopped):
    app, ha = app_and_ha
    replicas = dict(zip("ab", ha.prometheus_replicas, strict=True))
    survivor = replicas["b" if stopped == "a" else "a"]
    replicas[stopped].stop()
    started = drill("error-rate", app, survivor.url)
    arrived = wait_for_pages(ha, wanted("error-rate"), started)
    counts = no_duplicate_within(ha, DUPLICATE_WINDOW)
    assert_paged_once(counts, "error-rate")
    print(f"replica {stopped} stopped, HighErrorRate paged once each: " + ", ".join(
        f"{r} {seconds:.1f}s" for (r, _), seconds in sorted(arrived.items())) + " after the drill")


@pytest.mark.slow
@pytest.mark.parametrize("lost_position", [0, 1])
def test_one_alertmanager_lost_pages_once_then_it_rejoins_and_shares_silences(app_and_ha, lost_position):
    app, ha = app_and_ha
    a, _ = ha.prometheus_replicas
    # Position 0 is the member that sends (the other waits a peer timeout for it): its loss is the harder case.
    positions = {am.name: peer_position(am) for am in ha.alertmanagers}
    assert sorted(positions.values()) == [0, 1], positions
    lost, survivor = sorted(ha.alertmanagers, key=lambda am: positions[am.name] != lost_position)
    lost.kill()
    killed = time.monotonic()
    started = drill("error-rate", app, a.url)
    arrived = wait_for_pages(ha, wanted("error-rate"), started)
    counts = no_duplicate_within(ha, LONE_WINDOW)
    assert_paged_once(counts, "error-rate")
    print(f"{lost.name} (position {lost_position}) killed (SIGKILL) {started - killed:.1f}s before the drill; "
          f"{survivor.name} now position {peer_position(survivor)}; HighErrorRate paged once each: "
          + ", ".join(f"{r} {s:.1f}s" for (r, _), s in sorted(arrived.items())) + " from the drill to the page")

    lost.start()
    rejoined = ha.wait_for_cluster(2)
    assert [len(am.cluster()["peers"]) for am in ha.alertmanagers] == [2, 2]
    print(f"{lost.name} restarted: 2 settled members on both after {rejoined:.1f}s")
    # The firing HighErrorRate was not paged again by the member that came back: it learned the
    # notification log from the survivor when it joined.
    assert page_counts(ha.sinks.pages) == counts
    am1, am2 = survivor, lost  # the silence is set on one member and must hold on the other

    silence = am1.api("/silences", {
        "matchers": [{"name": "alertname", "value": "DatabaseIssues", "isRegex": False, "isEqual": True}],
        "startsAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "endsAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 600)),
        "createdBy": "test_ha_alerting", "comment": "set on one member, must hold on the other"})["silenceID"]
    deadline = time.monotonic() + 10
    while not any(s["id"] == silence and s["status"]["state"] == "active" for s in am2.api("/silences")):
        assert time.monotonic() < deadline, f"the silence set on {am1.name} did not reach {am2.name} in 10s"
        time.sleep(0.2)
    gossiped = 10 - (deadline - time.monotonic())
    drill("db-slow", app, a.url)
    # Both members received DatabaseIssues from the replicas, and both hold it silenced by am1's silence.
    deadline = time.monotonic() + 30
    while True:
        states = [[(x["status"]["state"], x["status"]["silencedBy"])
                   for x in am.api("/alerts?filter=alertname%3D%22DatabaseIssues%22")] for am in (am1, am2)]
        if all(s == [("suppressed", [silence])] for s in states):
            break
        assert time.monotonic() < deadline, f"DatabaseIssues not silenced on both members: {states}"
        time.sleep(0.2)
    # No DatabaseIssues page, and (a peer timeout after it rejoined) no second HighErrorRate page from the
    # member that came back.
    assert no_duplicate_within(ha, DUPLICATE_WINDOW) == counts
    print(f"silence set on {am1.name} active on {am2.name} after {gossiped:.1f}s; DatabaseIssues suppressed on "
          "both, no page")
