"""prometheus.yml for both deployments, from one source: only how targets are found differs.

docker compose: DNS service discovery (every `app` replica of `docker compose up --scale app=3`).
local processes (`make up` without Docker): file service discovery, written by the stack.

    python -m prometheus.render_config              # write prometheus/prometheus.yml (compose)
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


def render(*, app_sd: dict, worker_sd: dict, redis_exporter: str, alertmanager: str, prometheus: str,
           rule_files: list[str], scrape_interval: str = "15s", evaluation_interval: str = "15s",
           metrics_credentials_file: str | None = None, environment: str = "development") -> str:
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
    return HEADER + yaml.safe_dump(config, sort_keys=False, default_flow_style=False)


def render_compose() -> str:
    def dns(name: str, port: int) -> dict:
        return {"dns_sd_configs": [{"names": [name], "type": "A", "port": port, "refresh_interval": "15s"}]}

    return render(
        app_sd=dns("app", APP_PORT),
        worker_sd=dns("worker", WORKER_METRICS_PORT),
        redis_exporter=f"redis-exporter:{REDIS_EXPORTER_PORT}",
        alertmanager="alertmanager:9093",
        prometheus="localhost:9090",
        rule_files=["/etc/prometheus/rules/*.yml"],
    )


def render_local(*, targets_dir: Path, rules_dir: Path, redis_exporter: str, alertmanager: str, prometheus: str,
                 scrape_interval: str = "5s", evaluation_interval: str = "5s",
                 metrics_credentials_file: str | None = None, environment: str = "development") -> str:
    def files(name: str) -> dict:
        return {"file_sd_configs": [{"files": [str(targets_dir / f"{name}.json")], "refresh_interval": "5s"}]}

    return render(
        app_sd=files("app"), worker_sd=files("worker"), redis_exporter=redis_exporter, alertmanager=alertmanager,
        prometheus=prometheus, rule_files=[str(rules_dir / "*.yml")], scrape_interval=scrape_interval,
        evaluation_interval=evaluation_interval, metrics_credentials_file=metrics_credentials_file,
        environment=environment)


def main(argv=None) -> int:
    return artifacts.main(lambda: {COMPOSE_FILE.relative_to(artifacts.ROOT): render_compose()}, __doc__.split("\n\n")[0], argv)


if __name__ == "__main__":
    sys.exit(main())
