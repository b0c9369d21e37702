"""prometheus.yml for both deployments, from one source: only how targets are found differs.

docker compose: DNS service discovery (every `app` replica of `docker compose up --scale app=3`).
local processes (`make up` without Docker): file service discovery, written by the stack.

    python -m prometheus.render_config              # write prometheus/prometheus.yml, prometheus-2.yml and
                                                    # prometheus-long-term.yml (compose, --profile ha / long-term)
    python -m prometheus.render_config --check      # exit 1 when the committed file drifted
"""
from __future__ import annotations

import copy
import sys
from pathlib import Path

import yaml

from monitoring_spec import artifacts
from monitoring_spec.contract import APP_JOB, WORKER_JOB

HERE = Path(__file__).resolve().parent
COMPOSE_FILE = HERE / "prometheus.yml"
HEADER = "# generated, do not edit: source prometheus/render_config.py\n"

APP_PORT = 8000
WORKER_METRICS_PORT = 9808
REDIS_EXPORTER_PORT = 9121
PROMETHEUS_PORT = 9090
ALERTMANAGER_PORT = 9093

# STACK_HA / the compose profile `ha`: two replicas, identical but for this external label.
REPLICA_LABEL = "replica"
# What each replica reads from the other (job PEER_JOB, renamed PEER_ALERTS so that the local ALERTS, the
# dashboards and `make pages` see only their own): a replica's rules can then notice that its peer stopped
# evaluating (the meta-monitoring rules), without a third Prometheus.
PEER_JOB = "prometheus-peer"
PEER_ALERTS = "peer_ALERTS"
PEER_MATCH = 'ALERTS{alertstate="firing"}'


def _targets(addresses: list[str] | dict) -> dict:
    """Static targets, or (a dict) a service discovery config taken as is; a fresh copy each time (a shared
    object would come out of yaml.safe_dump as an anchor and an alias)."""
    if isinstance(addresses, dict):
        return copy.deepcopy(addresses)
    return {"static_configs": [{"targets": list(addresses)}]}
LONG_TERM_JOB = "victoria-metrics"
LONG_TERM_PORT = 8428
LONG_TERM_FILE = HERE / "prometheus-long-term.yml"  # docker compose --profile long-term


def render(*, app_sd: dict, worker_sd: dict, redis_exporter: str, alertmanager: str, prometheus: str,
           rule_files: list[str], scrape_interval: str = "15s", evaluation_interval: str = "15s",
           metrics_credentials_file: str | None = None, environment: str = "development",
           alertmanagers: list[str] | dict | None = None, replica: str | None = None,
           peers: list[str] | dict | None = None,
           remote_write_url: str | None = None, remote_write_username: str | None = None,
           remote_write_password_file: str | None = None, long_term_target: str | None = None) -> str:
    """prometheus.yml as text.

    High availability (all three None for one Prometheus and one Alertmanager): `alertmanagers` every
    Alertmanager of the cluster (each replica sends every alert to each; the cluster deduplicates),
    `replica` this replica's external label (dropped from the alerts it sends, or the two replicas' alerts
    would be two alerts and page twice), `peers` the other replica(s): scraped as `prometheus` like this
    one, and their firing alerts federated as peer_ALERTS (job prometheus-peer).
    """
    alertmanager_targets = alertmanagers if alertmanagers is not None else [alertmanager]
    app_job = {"job_name": APP_JOB, "metrics_path": "/metrics", **app_sd}
    if metrics_credentials_file:
        # The app's /metrics is closed outside development (METRICS_TOKEN); Prometheus reads the token.
        app_job["authorization"] = {"type": "Bearer", "credentials_file": metrics_credentials_file}
    external_labels = {"environment": environment, "monitor": "python-learning-studio"}
    alerting: dict = {"alertmanagers": [_targets(alertmanager_targets)]}
    if replica is not None:
        external_labels[REPLICA_LABEL] = replica
        alerting = {"alert_relabel_configs": [{"action": "labeldrop", "regex": REPLICA_LABEL}], **alerting}
    prometheus_job = {"job_name": "prometheus", "static_configs": [{"targets": [prometheus]}]}
    if isinstance(peers, dict):
        prometheus_job = {"job_name": "prometheus", "static_configs": [{"targets": [prometheus]}], **_targets(peers)}
    elif peers:
        prometheus_job = {"job_name": "prometheus", "static_configs": [{"targets": [prometheus, *peers]}]}
    config = {
        "global": {
            "scrape_interval": scrape_interval,
            "evaluation_interval": evaluation_interval,
            "external_labels": external_labels,
        },
        "rule_files": rule_files,
        "alerting": alerting,
        "scrape_configs": [
            app_job,
            {"job_name": WORKER_JOB, **worker_sd},
            {"job_name": "redis", "static_configs": [{"targets": [redis_exporter]}]},
            prometheus_job,
            {"job_name": "alertmanager", **_targets(alertmanager_targets)},
        ],
    }
    if peers:
        config["scrape_configs"].append({
            "job_name": PEER_JOB,
            "honor_labels": True,  # the peer's alert labels (job, instance of what is down) and its replica label
            # Federated samples keep the peer's timestamps and get no stale marker: a resolved alert would linger
            # as peer_ALERTS for the 5-minute lookback; scrape-time timestamps make it vanish at the next scrape.
            "honor_timestamps": False,
            "metrics_path": "/federate",
            "params": {"match[]": [PEER_MATCH]},
            **_targets(peers),
            "metric_relabel_configs": [{"source_labels": ["__name__"], "regex": "ALERTS",
                                        "target_label": "__name__", "replacement": PEER_ALERTS}],
        })
    if remote_write_url:
        endpoint = remote_write(remote_write_url, remote_write_username, remote_write_password_file)
        if replica:
            # Both replicas write the same series: without their replica label they are one series in the store
            # (which keeps one sample per scrape interval, -dedup.minScrapeInterval), not two that sums and
            # `make review` would count twice.  Write relabelling runs after external labels are added.
            endpoint["write_relabel_configs"] = [{"action": "labeldrop", "regex": REPLICA_LABEL}]
        config["remote_write"] = [endpoint]
    if long_term_target:  # the long-term store's own health (its /metrics needs no credentials)
        config["scrape_configs"].append(
            {"job_name": LONG_TERM_JOB, "static_configs": [{"targets": [long_term_target]}]})
    return HEADER + yaml.safe_dump(config, sort_keys=False, default_flow_style=False)


def remote_write(url: str, username: str | None = None, password_file: str | None = None) -> dict:
    """One remote_write endpoint.  A password only ever as a file Prometheus reads (never inline in the config),
    and only with a user name: basic auth needs both.  The default queue (10 000 samples per shard, batches of
    2 000 sent at least every 5 s) keeps up with this stack's few thousand series with room to spare."""
    if bool(username) != bool(password_file):
        raise ValueError("remote_write basic auth needs both a user name and a password file")
    endpoint: dict = {"url": url}
    if password_file:
        endpoint["basic_auth"] = {"username": username, "password_file": password_file}
    return endpoint


# docker compose: replica a is the service `prometheus` (prometheus.yml), replica b `prometheus-2`
# (prometheus-2.yml, the profile `ha`).  Each finds the other replica and the second Alertmanager by DNS: without
# the profile those names do not resolve, DNS service discovery finds nothing (no target, no error), and
# replica a is the single Prometheus it always was, sending to the single Alertmanager.
COMPOSE_FILE_2 = HERE / "prometheus-2.yml"
COMPOSE_REPLICAS = {"a": ("prometheus", "prometheus-2"), "b": ("prometheus-2", "prometheus")}


def render_compose(replica: str = "a", *, long_term: bool = False) -> str:
    def dns(name: str, port: int) -> dict:
        return {"dns_sd_configs": [{"names": [name], "type": "A", "port": port, "refresh_interval": "15s"}]}

    _, peer = COMPOSE_REPLICAS[replica]
    return render(
        app_sd=dns("app", APP_PORT),
        worker_sd=dns("worker", WORKER_METRICS_PORT),
        redis_exporter=f"redis-exporter:{REDIS_EXPORTER_PORT}",
        alertmanager=f"alertmanager:{ALERTMANAGER_PORT}",
        prometheus=f"localhost:{PROMETHEUS_PORT}",
        rule_files=["/etc/prometheus/rules/*.yml"],
        alertmanagers={"static_configs": [{"targets": [f"alertmanager:{ALERTMANAGER_PORT}"]}],
                       **dns("alertmanager-2", ALERTMANAGER_PORT)},
        replica=replica,
        peers=dns(peer, PROMETHEUS_PORT),
        **(compose_long_term() if long_term else {}),
    )


def compose_long_term() -> dict:
    # Inside the compose network only (its published port is bound to 127.0.0.1), so no credentials.
    address = f"{LONG_TERM_JOB}:{LONG_TERM_PORT}"
    return {"remote_write_url": f"http://{address}/api/v1/write", "long_term_target": address}


def render_local(*, targets_dir: Path, rules_dir: Path, redis_exporter: str, alertmanager: str, prometheus: str,
                 scrape_interval: str = "5s", evaluation_interval: str = "5s",
                 metrics_credentials_file: str | None = None, environment: str = "development",
                 alertmanagers: list[str] | None = None, replica: str | None = None,
                 peers: list[str] | None = None, **long_term) -> str:
    def files(name: str) -> dict:
        return {"file_sd_configs": [{"files": [str(targets_dir / f"{name}.json")], "refresh_interval": "5s"}]}

    return render(
        app_sd=files("app"), worker_sd=files("worker"), redis_exporter=redis_exporter, alertmanager=alertmanager,
        prometheus=prometheus, rule_files=[str(rules_dir / "*.yml")], scrape_interval=scrape_interval,
        evaluation_interval=evaluation_interval, metrics_credentials_file=metrics_credentials_file,
        environment=environment, alertmanagers=alertmanagers, replica=replica, peers=peers, **long_term)


def main(argv=None) -> int:
    return artifacts.main(lambda: {COMPOSE_FILE.relative_to(artifacts.ROOT): render_compose("a"),
                                   COMPOSE_FILE_2.relative_to(artifacts.ROOT): render_compose("b"),
                                   LONG_TERM_FILE.relative_to(artifacts.ROOT): render_compose("a", long_term=True)},
                          __doc__.split("\n\n")[0], argv)


if __name__ == "__main__":
    sys.exit(main())
