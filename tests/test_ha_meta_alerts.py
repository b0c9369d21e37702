"""Issue 19 part 4: the HA meta-alerts on real binaries, against the contract of STACK_HA=1.

Two real Prometheus replicas (external label `replica`), each scraping both replicas' /metrics (job
prometheus), the other's /federate of its firing ALERTS renamed peer_ALERTS (job prometheus-peer,
honor_labels, honor_timestamps off), and the Alertmanagers (job alertmanager), two of them in one gossip
cluster.  The scrape configuration is written here from that contract; the rules are the committed ones.
The `for:` durations are minutes, so the test reads the alerts' pending state: expression, labels and the
replicas' agreement, not their timing (prometheus/tests/ha.yml has that).  The single stack's shape
(monitoring_factory: clustering off, no peer job) keeps all three quiet.
"""
from __future__ import annotations

import json
import shutil
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
import yaml

from monitoring_spec.contract import ALERTMANAGER_JOB, PEER_ALERTS, PROMETHEUS_JOB, PROMETHEUS_PEER_JOB
from tests.fixtures.monitoring import RULES_DIR, shortened_rules
from tests.fixtures.servers import ServerProcess, free_port, system_tool

pytestmark = pytest.mark.slow

HA_ALERTS = ("PrometheusReplicaMissing", "AlertmanagerClusterMemberMissing", "PrometheusReplicasDisagree")
HA_ALERTS_MATCHER = f'ALERTS{{alertname=~"{"|".join(HA_ALERTS)}"}}'


class Replica(ServerProcess):
    def __init__(self, workdir: Path, name: str, port: int, peer_port: int, alertmanagers: list[str],
                 extra_rules: Path | None = None):
        super().__init__(f"test-prometheus-{name}-", workdir / f"prometheus-{name}.log")
        self.port, self.workdir, self.name = port, workdir / name, name
        self.workdir.mkdir(parents=True)
        self.config = self.workdir / "prometheus.yml"
        self.config.write_text(yaml.safe_dump({
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s", "external_labels": {"replica": name}},
            "rule_files": [str(RULES_DIR / "alerts.yml"), str(RULES_DIR / "recording.yml")]
            + ([str(extra_rules)] if extra_rules else []),
            "scrape_configs": [
                {"job_name": PROMETHEUS_JOB,
                 "static_configs": [{"targets": [f"127.0.0.1:{port}", f"127.0.0.1:{peer_port}"]}]},
                # honor_timestamps off: the federated samples then get stale markers, and a peer's alert that
                # resolves (or a peer that stops) leaves peer_ALERTS at the next scrape, not 5 minutes later
                # (Prometheus 2.42 marks no sample with its own timestamp stale).
                {"job_name": PROMETHEUS_PEER_JOB, "honor_labels": True, "honor_timestamps": False,
                 "metrics_path": "/federate",
                 "params": {"match[]": ['ALERTS{alertstate="firing"}']},
                 "static_configs": [{"targets": [f"127.0.0.1:{peer_port}"]}],
                 "metric_relabel_configs": [{"source_labels": ["__name__"], "regex": "ALERTS",
                                             "target_label": "__name__", "replacement": PEER_ALERTS}]},
                {"job_name": ALERTMANAGER_JOB, "static_configs": [{"targets": alertmanagers}]},
            ]}))

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Replica:
        self.launch([system_tool("prometheus"), f"--config.file={self.config}",
                     f"--storage.tsdb.path={self.workdir / 'tsdb'}", f"--web.listen-address=127.0.0.1:{self.port}"],
                    f"{self.url}/-/ready", timeout=30)
        return self

    def query(self, expr: str) -> list[dict]:
        url = f"{self.url}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
        with urllib.request.urlopen(url, timeout=10) as resp:
            return json.load(resp)["data"]["result"]


class ClusteredAlertmanager(ServerProcess):
    """An Alertmanager whose cluster flags are the test's (tests.fixtures.monitoring's runs without a cluster)."""

    def __init__(self, workdir: Path, name: str, cluster_args: list[str]):
        super().__init__(f"test-alertmanager-{name}-", workdir / f"alertmanager-{name}.log")
        self.port, self.workdir, self.cluster_args = free_port(), workdir / f"am-{name}", cluster_args
        self.workdir.mkdir(parents=True)
        (self.workdir / "alertmanager.yml").write_text("route: {receiver: nobody}\nreceivers: [{name: nobody}]\n")

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> ClusteredAlertmanager:
        self.launch([system_tool("alertmanager"), f"--config.file={self.workdir / 'alertmanager.yml'}",
                     f"--storage.path={self.workdir / 'data'}", f"--web.listen-address={self.address}",
                     *self.cluster_args], f"http://{self.address}/-/ready", timeout=30)
        return self


def wait_for(what: str, probe, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while True:
        result = probe()
        if result:
            return result
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not within {timeout:.0f}s")
        time.sleep(0.25)


def alerts(replica: Replica, name: str) -> list[dict]:
    return [r["metric"] for r in replica.query(f'ALERTS{{alertname="{name}"}}')]


@pytest.fixture
def workdir():
    path = Path(tempfile.mkdtemp(prefix="test-ha-meta-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_replicas_disagree_cluster_split_and_missing_replica_on_real_binaries(workdir):
    started: list[ServerProcess] = []
    try:
        gossip_a, gossip_b = free_port(), free_port()
        am_a = ClusteredAlertmanager(workdir, "a", [f"--cluster.listen-address=127.0.0.1:{gossip_a}",
                                                    f"--cluster.peer=127.0.0.1:{gossip_b}"])
        am_b = ClusteredAlertmanager(workdir, "b", [f"--cluster.listen-address=127.0.0.1:{gossip_b}",
                                                    f"--cluster.peer=127.0.0.1:{gossip_a}"])
        # Answers Prometheus but runs without clustering: started only for the second half.
        am_c = ClusteredAlertmanager(workdir, "c", ["--cluster.listen-address="])
        for am in (am_a, am_b):
            started.append(am.start())
        # An alert only replica a has (a rule file b lacks: the disagreement a stale reload would cause).
        only_a = workdir / "only-a.yml"
        only_a.write_text("groups:\n- name: only-a\n  rules:\n  - {alert: HighErrorRate, expr: vector(1)}\n")
        port_a, port_b = free_port(), free_port()
        ams = [am_a.address, am_b.address, am_c.address]
        a = Replica(workdir, "a", port_a, port_b, ams, extra_rules=only_a)
        b = Replica(workdir, "b", port_b, port_a, ams)
        for replica in (a, b):
            started.append(replica.start())

        for replica in (a, b):  # the contract holds: the peer's alerts arrive, renamed, with its replica label
            peer = "b" if replica is a else "a"
            wait_for(f"{replica.name} reads {peer}'s Watchdog",
                     lambda r=replica, p=peer: r.query(f'{PEER_ALERTS}{{alertname="Watchdog", replica="{p}"}}'))
        # Both replicas hold the same disagreement (one alert once Alertmanager drops `replica`), and only it.
        for replica in (a, b):
            found = wait_for(f"{replica.name}: PrometheusReplicasDisagree pending",
                             lambda r=replica: alerts(r, "PrometheusReplicasDisagree"))
            assert [(m["alertstate"], m["disagreeing_alert"]) for m in found] == [("pending", "HighErrorRate")]
        wait_for("both Alertmanagers count two members",
                 lambda: len(a.query(f'alertmanager_cluster_members{{job="{ALERTMANAGER_JOB}"}} == 2')) == 2)
        time.sleep(3)  # a few more evaluations
        for replica in (a, b):
            assert alerts(replica, "AlertmanagerClusterMemberMissing") == []
            assert alerts(replica, "PrometheusReplicaMissing") == []

        # A third Alertmanager answers without joining: the two clustered ones count fewer members than answer.
        started.append(am_c.start())
        found = wait_for("AlertmanagerClusterMemberMissing pending on a",
                         lambda: alerts(a, "AlertmanagerClusterMemberMissing"))
        assert sorted(m["instance"] for m in found) == sorted([am_a.address, am_b.address])

        # Replica b stops: a reports it once (its /metrics, not also its /federate), and no disagreement.
        b.stop()
        wait_for("a's scrapes of b fail", lambda: len(a.query(
            f'up{{job=~"{PROMETHEUS_JOB}|{PROMETHEUS_PEER_JOB}", instance="127.0.0.1:{port_b}"}} == 0')) == 2)
        time.sleep(3)  # a few more evaluations
        found = alerts(a, "PrometheusReplicaMissing")
        assert [(m["job"], m["instance"]) for m in found] == [(PROMETHEUS_JOB, f"127.0.0.1:{port_b}")]
        assert alerts(a, "PrometheusReplicasDisagree") == []
        assert a.query(f'count({PEER_ALERTS})') == []  # the federated alerts went stale with the scrape
    finally:
        for server in reversed(started):
            server.stop()


def test_single_stack_shape_keeps_the_ha_alerts_quiet(monitoring_factory, tmp_path):
    # StudioAppDown (no app target) fires at once: an alert this lone replica fires, with nobody to agree.
    stack = monitoring_factory([], rules_dir=shortened_rules(tmp_path / "rules", {"StudioAppDown": "1s"}))
    prometheus = stack.prometheus
    wait_for("Prometheus and Alertmanager scraped", lambda: len(prometheus.query(
        f'up{{job=~"{PROMETHEUS_JOB}|{ALERTMANAGER_JOB}"}} == 1')) == 2)
    assert prometheus.query("alertmanager_cluster_enabled")[0]["value"][1] == "0"
    assert prometheus.query(f'up{{job="{PROMETHEUS_PEER_JOB}"}}') == []
    wait_for("StudioAppDown firing", lambda: prometheus.query('ALERTS{alertname="StudioAppDown", alertstate="firing"}'))
    time.sleep(3)  # a few more evaluations
    assert prometheus.query(HA_ALERTS_MATCHER) == []
