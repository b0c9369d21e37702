"""docker-compose.yml checked structurally (no Docker engine here): services, healthchecks and their
depends_on conditions, volumes, provisioning mounts, ports bound to 127.0.0.1, scaling, no secrets."""
from __future__ import annotations

import re
import shutil
import subprocess

import pytest
import yaml

from tests.fixtures.servers import PROJECT_DIR

COMPOSE = PROJECT_DIR / "docker-compose.yml"
CORE = {"app", "worker", "beat", "postgres", "redis", "migrate", "prometheus", "alertmanager", "grafana",
        "mailpit", "webhook-sink", "redis-exporter"}
LONG_RUNNING_WITH_HEALTH = {"app", "worker", "postgres", "redis", "prometheus", "alertmanager", "grafana",
                            "webhook-sink", "redis-exporter"}


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


def test_services(compose):
    services = compose["services"]
    assert set(services) >= CORE
    optional = {name for name, s in services.items() if s.get("profiles")}
    assert {"glitchtip", "glitchtip-worker"} <= optional, "GlitchTip is an opt-in profile"
    assert {"prometheus-2", "alertmanager-2"} <= optional, "high availability is an opt-in profile"
    assert all(services[name].get("profiles") in (["sentry"], ["ha"], ["long-term"]) for name in optional)
    assert services["victoria-metrics"]["profiles"] == ["long-term"], "the long-term store is opt-in"
    assert not CORE & optional, "the core stack starts without profiles"


def test_healthchecks_and_depends_on_conditions(compose):
    services = compose["services"]
    for name in LONG_RUNNING_WITH_HEALTH:
        check = services[name].get("healthcheck")
        assert check and check.get("test"), f"{name} has no healthcheck"
    conditions = {}
    for name, service in services.items():
        for dep, spec in (service.get("depends_on") or {}).items():
            assert dep in services, f"{name} depends on unknown {dep}"
            assert isinstance(spec, dict) and spec.get("condition"), f"{name} -> {dep} has no condition"
            if spec["condition"] == "service_healthy":
                assert services[dep].get("healthcheck"), f"{name} waits for {dep} to be healthy; it has no healthcheck"
            conditions[(name, dep)] = spec["condition"]
    assert conditions[("migrate", "postgres")] == "service_healthy"
    assert conditions[("app", "migrate")] == "service_completed_successfully"
    assert conditions[("prometheus", "app")] == "service_healthy"
    assert conditions[("grafana", "prometheus")] == "service_healthy"


def test_every_published_port_is_bound_to_localhost(compose):
    published = 0
    for name, service in compose["services"].items():
        for port in service.get("ports", []):
            published += 1
            assert isinstance(port, str) and port.startswith("127.0.0.1:"), f"{name} publishes {port} beyond localhost"
    assert published >= 6


def test_app_scales_and_prometheus_discovers_every_replica(compose):
    app = compose["services"]["app"]
    assert "container_name" not in app, "a fixed container name would stop `--scale app=3`"
    (port,) = app["ports"]
    assert re.fullmatch(r"127\.0\.0\.1:\$\{APP_PORT:-\d+\}-\$\{APP_PORT_LAST:-\d+\}:8000", port), \
        "a host port range gives every replica its own port"
    worker = compose["services"]["worker"]
    assert "container_name" not in worker
    prometheus = yaml.safe_load((PROJECT_DIR / "prometheus" / "prometheus.yml").read_text())
    jobs = {job["job_name"]: job for job in prometheus["scrape_configs"]}
    assert jobs["studio-app"]["dns_sd_configs"][0]["names"] == ["app"]
    assert jobs["studio-worker"]["dns_sd_configs"][0]["names"] == ["worker"]
    assert worker["environment"]["CELERY_METRICS_ADDR"] == "0.0.0.0" or \
        compose["x-app-env"]["CELERY_METRICS_ADDR"] == "0.0.0.0", "the worker's metrics must be reachable"


def test_multiprocess_metrics_dirs(compose):
    app_env = compose["services"]["app"]["environment"]
    worker_env = compose["services"]["worker"]["environment"]
    assert app_env["PROMETHEUS_MULTIPROC_DIR"] != worker_env["PROMETHEUS_MULTIPROC_DIR"]
    assert "config/gunicorn.py" in compose["services"]["app"]["command"], "gunicorn.py wipes the dir and marks dead workers"


def mounts(service: dict) -> dict[str, str]:
    out = {}
    for volume in service.get("volumes", []):
        source, target = volume.split(":")[:2]
        out[target] = source
    return out


def test_volumes_and_provisioning_mounts(compose):
    services = compose["services"]
    assert {"prometheus-data", "postgres-data", "grafana-data"} <= set(compose["volumes"])
    prom = mounts(services["prometheus"])
    assert prom["/prometheus"] == "prometheus-data"
    assert prom["/etc/prometheus/prometheus.yml"] == "./prometheus/prometheus.yml"
    assert prom["/etc/prometheus/rules"] == "./prometheus/rules"
    grafana = mounts(services["grafana"])
    assert grafana["/etc/grafana/provisioning"] == "./grafana/provisioning"
    assert grafana[services["grafana"]["environment"]["GRAFANA_DASHBOARDS_DIR"]] == "./grafana/dashboards"
    am = mounts(services["alertmanager"])
    assert am["/etc/alertmanager"] == "./alertmanager"
    for source in [*prom.values(), *grafana.values(), *am.values()]:
        if source.startswith("./"):
            assert (PROJECT_DIR / source).exists(), f"{source} is mounted but missing"
    # The committed configs refer to the service names and mount points above.
    am_config = (PROJECT_DIR / "alertmanager" / "alertmanager.yml").read_text()
    assert "mailpit:1025" in am_config and "webhook-sink:8080" in am_config
    assert "/etc/alertmanager/templates/" in am_config


def test_ha_profile_pairs_prometheus_replicas_and_clusters_alertmanagers(compose):
    services = compose["services"]
    assert services["prometheus-2"]["profiles"] == services["alertmanager-2"]["profiles"] == ["ha"]
    assert mounts(services["prometheus-2"])["/etc/prometheus/prometheus.yml"] == "./prometheus/prometheus-2.yml"
    assert mounts(services["prometheus-2"])["/prometheus"] != mounts(services["prometheus"])["/prometheus"]
    assert "--config.file=/etc/alertmanager/alertmanager-2.yml" in services["alertmanager-2"]["command"]
    # Each Alertmanager names the other as its peer (the base one's peer does not resolve without the profile).
    assert "--cluster.peer=alertmanager-2:9094" in services["alertmanager"]["command"]
    assert "--cluster.peer=alertmanager:9094" in services["alertmanager-2"]["command"]
    for replica, (name, peer) in {"a": ("prometheus.yml", "prometheus-2"), "b": ("prometheus-2.yml", "prometheus")}.items():
        config = yaml.safe_load((PROJECT_DIR / "prometheus" / name).read_text())
        assert config["global"]["external_labels"]["replica"] == replica
        assert config["alerting"]["alert_relabel_configs"] == [{"action": "labeldrop", "regex": "replica"}]
        (alertmanagers,) = config["alerting"]["alertmanagers"]
        assert alertmanagers["static_configs"][0]["targets"] == ["alertmanager:9093"]
        assert alertmanagers["dns_sd_configs"][0]["names"] == ["alertmanager-2"]
        jobs = {job["job_name"]: job for job in config["scrape_configs"]}
        assert jobs["prometheus-peer"]["dns_sd_configs"][0]["names"] == [peer]
    # The second member's heartbeat has its own receiver: the cluster does not deduplicate it away.
    am2 = (PROJECT_DIR / "alertmanager" / "alertmanager-2.yml").read_text()
    assert "receiver: deadmansswitch-am2" in am2 and "/deadmansswitch?alertmanager=am2" in am2


def test_secrets_come_from_the_environment(compose):
    grafana_env = compose["services"]["grafana"]["environment"]
    assert grafana_env["GF_SECURITY_ADMIN_PASSWORD"].startswith("${GRAFANA_ADMIN_PASSWORD")
    text = COMPOSE.read_text()
    for match in re.finditer(r"(?im)^\s*[\w-]*(PASSWORD|SECRET|TOKEN|DSN|KEY)[\w-]*:\s*(\S+)", text):
        assert match.group(2).startswith(("${", '"${', "postgres://")), f"literal secret: {match.group(0).strip()}"


def test_compose_config_validates_when_the_plugin_exists():
    docker = shutil.which("docker")
    if docker is None or subprocess.run([docker, "compose", "version"], capture_output=True).returncode != 0:
        pytest.skip("docker compose plugin not installed (structure is checked by the tests above)")
    out = subprocess.run([docker, "compose", "-f", str(COMPOSE), "config", "-q"], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
