"""prometheus.yml for both deployments, from one source: only how targets are found differs.

docker compose: DNS service discovery (every `app` replica of `docker compose up --scale app=3`).
local processes (`make up` without Docker): file service discovery, written by the stack.

    python -m prometheus.render_config              # write prometheus/prometheus.yml and
                                                    # prometheus-long-term.yml (compose, --profile long-term)
    python -m prometheus.render_config --check      # exit 1 when the committed file drifted
"""
from __future__ import annotations

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
LONG_TERM_JOB = "victoria-metrics"
LONG_TERM_PORT = 8428
LONG_TERM_FILE = HERE / "prometheus-long-term.yml"  # docker compose --profile long-term


def render(*, app_sd: dict, worker_sd: dict, redis_exporter: str, alertmanager: str, prometheus: str,
           rule_files: list[str], scrape_interval: str = "15s", evaluation_interval: str = "15s",
           metrics_credentials_file: str | None = None, environment: str = "development",
           remote_write_url: str | None = None, remote_write_username: str | None = None,
           remote_write_password_file: str | None = None, long_term_target: str | None = None) -> str:
    app_job = {"job_name": APP_JOB, "metrics_path": "/metrics", **app_sd}
    if metrics_credentials_file:
        # The app's /metrics is closed outside development (METRICS_TOKEN); Prometheus reads the token.
        app_job["authorization"] = {"type": "Bearer", "credentials_file": metrics_credentials_file}
    config = {
        "global": {
            "scrape_interval": scrape_interval,
            "evaluation_interval": evaluation_interval,
            "external_labels": {"environment": environment, "monitor": "python-learning-studio"},
        },
        "rule_files": rule_files,
        "alerting": {"alertmanagers": [{"static_configs": [{"targets": [alertmanager]}]}]},
        "scrape_configs": [
            app_job,
            {"job_name": WORKER_JOB, **worker_sd},
            {"job_name": "redis", "static_configs": [{"targets": [redis_exporter]}]},
            {"job_name": "prometheus", "static_configs": [{"targets": [prometheus]}]},
            {"job_name": "alertmanager", "static_configs": [{"targets": [alertmanager]}]},
        ],
    }
    if remote_write_url:
        config["remote_write"] = [remote_write(remote_write_url, remote_write_username, remote_write_password_file)]
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


def render_compose(*, long_term: bool = False) -> str:
    def dns(name: str, port: int) -> dict:
        return {"dns_sd_configs": [{"names": [name], "type": "A", "port": port, "refresh_interval": "15s"}]}

    return render(
        app_sd=dns("app", APP_PORT),
        worker_sd=dns("worker", WORKER_METRICS_PORT),
        redis_exporter=f"redis-exporter:{REDIS_EXPORTER_PORT}",
        alertmanager="alertmanager:9093",
        prometheus="localhost:9090",
        rule_files=["/etc/prometheus/rules/*.yml"],
        **(compose_long_term() if long_term else {}),
    )


def compose_long_term() -> dict:
    # Inside the compose network only (its published port is bound to 127.0.0.1), so no credentials.
    address = f"{LONG_TERM_JOB}:{LONG_TERM_PORT}"
    return {"remote_write_url": f"http://{address}/api/v1/write", "long_term_target": address}


def render_local(*, targets_dir: Path, rules_dir: Path, redis_exporter: str, alertmanager: str, prometheus: str,
                 scrape_interval: str = "5s", evaluation_interval: str = "5s",
                 metrics_credentials_file: str | None = None, environment: str = "development",
                 **long_term) -> str:
    def files(name: str) -> dict:
        return {"file_sd_configs": [{"files": [str(targets_dir / f"{name}.json")], "refresh_interval": "5s"}]}

    return render(
        app_sd=files("app"), worker_sd=files("worker"), redis_exporter=redis_exporter, alertmanager=alertmanager,
        prometheus=prometheus, rule_files=[str(rules_dir / "*.yml")], scrape_interval=scrape_interval,
        evaluation_interval=evaluation_interval, metrics_credentials_file=metrics_credentials_file,
        environment=environment, **long_term)


def main(argv=None) -> int:
    return artifacts.main(lambda: {COMPOSE_FILE.relative_to(artifacts.ROOT): render_compose(),
                                   LONG_TERM_FILE.relative_to(artifacts.ROOT): render_compose(long_term=True)},
                          __doc__.split("\n\n")[0], argv)


if __name__ == "__main__":
    sys.exit(main())
