"""What the local stack runs: one list of services, rendered into a Procfile for honcho.

The configuration files (prometheus.yml, alertmanager.yml) are rendered by the same functions that
render the committed docker compose versions; only hosts and ports differ.
"""
from __future__ import annotations

import json
import os
import re
import secrets
import shlex
import shutil
import socket
import sys
from dataclasses import dataclass, field
from pathlib import Path

from alertmanager import render_config as alertmanager_config
from prometheus import render_config as prometheus_config
from stack import postgres, tools

ROOT = Path(__file__).resolve().parent.parent
APP_DIR = ROOT / "app"
RUN_DIR = Path(os.environ.get("STACK_RUN_DIR", ROOT / "var" / "stack")).resolve()
BIN = Path(sys.executable).parent
MODES = ("development", "production")  # STACK_ENV
SECRETS_DIR = RUN_DIR / "secrets"  # production mode: generated once, reused by every later `make up`
SECRET_KEY_FILE = SECRETS_DIR / "secret-key"
METRICS_TOKEN_FILE = SECRETS_DIR / "metrics-token"


@dataclass
class Service:
    name: str
    command: str  # run by honcho through the shell, from the project root; "" when not started
    health_url: str | None = None  # HTTP URL that answers < 500 once the service is ready
    port: int | None = None  # TCP port that accepts once the service is ready
    url: str | None = None  # printed for people
    promised: bool = True  # the README promises it: `make up` fails when it is not healthy
    target: list[str] | None = None  # its Prometheus scrape target, [job, instance], when it has one
    note: str = ""  # for a service not started by us: why, and what to do about it
    reused: bool = False  # one was already running (Redis): checked, not started

    @property
    def started(self) -> bool:
        return bool(self.command)


@dataclass
class StackConfig:
    host: str = "127.0.0.1"
    app_port: int = 8000
    app_instances: int = 1
    worker_instances: int = 1
    workers: int = 3
    redis_url: str = "redis://127.0.0.1:6379/0"
    start_redis: bool = False
    database_url: str = ""
    postgres_port: int | None = None  # STACK_POSTGRES=1: the stack's own PostgreSQL on this port
    seed_size: str = "small"
    worker_metrics_port: int = 9808
    prometheus_port: int = 9090
    alertmanager_port: int = 9093
    redis_exporter_port: int = 9121
    sink_http_port: int = 9099
    sink_smtp_port: int = 1025
    grafana_port: int = 3000
    scrape_interval: str = "5s"
    alert_group_wait: str = "5s"
    mode: str = "development"  # STACK_ENV: which settings the app, the worker and beat run
    long_term: bool = False  # STACK_LONG_TERM=1: VictoriaMetrics, fed by Prometheus' remote_write
    long_term_port: int = 8428
    # 30-day SLO windows looked at for a year back need 365 + 30 days; VictoriaMetrics drops whole months.
    long_term_retention: str = "400d"
    long_term_username: str = "prometheus"
    long_term_password_file: str | None = None  # LONG_TERM_PASSWORD_FILE: basic auth on VictoriaMetrics when set
    env: dict = field(default_factory=dict)
    # STACK_HA=1: a second Prometheus replica and a second Alertmanager, the two Alertmanagers one cluster.
    ha: bool = False
    prometheus2_port: int = 9092
    alertmanager2_port: int = 9095
    alertmanager_cluster_port: int = 9094
    alertmanager2_cluster_port: int = 9096

    @property
    def redis_port(self) -> int:
        return int(self.redis_url.split("://", 1)[1].split("/", 1)[0].rsplit(":", 1)[1])

    @property
    def app_ports(self) -> list[int]:
        return [self.app_port + i for i in range(self.app_instances)]

    @property
    def worker_metrics_ports(self) -> list[int]:
        return [self.worker_metrics_port + i for i in range(self.worker_instances)]

    @property
    def prometheus_url(self) -> str:
        return f"http://{self.host}:{self.prometheus_port}"

    @property
    def alertmanager_url(self) -> str:
        return f"http://{self.host}:{self.alertmanager_port}"

    @property
    def prometheus_urls(self) -> list[str]:
        """Every Prometheus replica: replica a (prometheus_url) and, with STACK_HA, replica b."""
        return [self.prometheus_url] + ([f"http://{self.host}:{self.prometheus2_port}"] if self.ha else [])

    @property
    def alertmanager_urls(self) -> list[str]:
        return [self.alertmanager_url] + ([f"http://{self.host}:{self.alertmanager2_port}"] if self.ha else [])

    @property
    def long_term_url(self) -> str:
        return f"http://{self.host}:{self.long_term_port}"

    @property
    def sink_url(self) -> str:
        return f"http://{self.host}:{self.sink_http_port}"


def port_answers(host: str, port: int, timeout: float = 0.5) -> bool:
    with socket.socket() as s:
        s.settimeout(timeout)
        return s.connect_ex((host, port)) == 0


def redis_answers(url: str) -> bool:
    try:
        import redis

        return bool(redis.Redis.from_url(url, socket_connect_timeout=0.5, socket_timeout=0.5).ping())
    except Exception:
        return False


def generated_secret(path: Path) -> str:
    """The secret kept in `path`, made the first time (0600 in a 0700 directory, under var/: never committed)."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    if path.exists() and not path.read_text().strip():
        path.unlink()  # left empty by a crash mid-write: an empty key or token would refuse every start
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_urlsafe(48) + "\n")
    os.chmod(path, 0o600)
    return path.read_text().strip()


def production_env(cfg: StackConfig, env) -> dict:
    """STACK_ENV=production: config.settings.production as deployed, with what a local machine lacks."""
    generated_secret(METRICS_TOKEN_FILE)
    return {
        "ENVIRONMENT": "production",
        "DJANGO_SETTINGS_MODULE": "config.settings.production",
        "SECRET_KEY": generated_secret(SECRET_KEY_FILE),
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        # The app reads the token at every scrape; Prometheus reads the same file (write_configs).
        "METRICS_TOKEN_FILE": str(METRICS_TOKEN_FILE),
        "METRICS_TOKEN": "",  # one from .env would win over the file in the app while Prometheus sends the file's
        # No TLS here, and no proxy to terminate it: the one production setting that makes plain HTTP unusable is
        # the redirect to https (Locust, the health checks and curl would all get a 301).  Everything else
        # stays: secure cookies (the personas sign in with API tokens, not cookies), HSTS (only ever sent over
        # https), the X-Forwarded-Proto trust.  The setting's default in production.py is unchanged (on).
        "SECURE_SSL_REDIRECT": "0",
        # The worker's confirmation e-mails: to its log, as in development, not to the stack's SMTP sink, where
        # they would read as pages (`make pages`, the game day's soak).
        "EMAIL_BACKEND": env.get("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend"),
        # Sentry's cost is part of the instrumented app: the SDK sends its envelopes to the stack's HTTP sink,
        # which accepts and counts them (stack/sinks.py, GET /sentry).
        "SENTRY_DSN": env.get("SENTRY_DSN", f"http://stack@{cfg.host}:{cfg.sink_http_port}/1"),
    }


def long_term_config(cfg: StackConfig, env) -> None:
    cfg.long_term = env.get_bool("STACK_LONG_TERM")
    cfg.long_term_port = int(env.get("VICTORIA_METRICS_PORT", str(cfg.long_term_port)))
    cfg.long_term_retention = env.get("STACK_LONG_TERM_RETENTION", cfg.long_term_retention)
    if not re.fullmatch(r"[1-9]\d*[hdwy]?", cfg.long_term_retention):
        raise SystemExit(f"STACK_LONG_TERM_RETENTION must be like 400d, 58w or 1y (a bare number is months); "
                         f"got {cfg.long_term_retention!r}")
    cfg.long_term_username = env.get("LONG_TERM_USERNAME", cfg.long_term_username)
    password_file = env.get("LONG_TERM_PASSWORD_FILE", "")
    if password_file:
        path = Path(password_file).expanduser().resolve()
        if not path.is_file() or not path.read_text().strip():
            raise SystemExit(f"LONG_TERM_PASSWORD_FILE={password_file}: not a file with a password in it")
        cfg.long_term_password_file = str(path)


def long_term_command(cfg: StackConfig, binary: str) -> str:
    """VictoriaMetrics 1.79 takes its basic-auth password only as a flag value, and a flag is readable by every
    user in /proc/PID/cmdline.  Its -envflag.enable reads flags from the environment instead
    (/proc/PID/environ: the owner only); the shell fills it from the file, so the password is never on a
    command line nor in the Procfile."""
    auth = _long_term_auth_env(cfg, "VM_httpAuth_username", "VM_httpAuth_password")
    return (f"{auth}exec {binary} -envflag.enable -envflag.prefix=VM_ "
            f"-httpListenAddr={cfg.host}:{cfg.long_term_port} -storageDataPath={_q(RUN_DIR / 'victoria-metrics-data')} "
            f"-retentionPeriod={cfg.long_term_retention} -loggerLevel=WARN"
            # STACK_HA: two replicas write each series (render_config drops their replica label); one sample per
            # scrape interval is kept.
            + (f" -dedup.minScrapeInterval={cfg.scrape_interval}" if cfg.ha else ""))


def long_term_credentials(cfg: StackConfig) -> str:
    """Grafana's environment for the long-term data source's basic auth (provisioning/datasources/long-term.yml):
    empty unless the store wants a password, filled by the shell from the file as for VictoriaMetrics itself."""
    return _long_term_auth_env(cfg, "LONG_TERM_USERNAME", "LONG_TERM_PASSWORD") if cfg.long_term else ""


def _long_term_auth_env(cfg: StackConfig, user_var: str, password_var: str) -> str:
    """Shell assignments of the store's user name and password, the password read from its file by the shell when
    the command runs (never written into the command); "" without a password file."""
    if not cfg.long_term_password_file:
        return ""
    return (f"{user_var}={_q(cfg.long_term_username)} "
            f"{password_var}=\"$(cat {_q(cfg.long_term_password_file)})\" ")


def load_config() -> StackConfig:
    from config import env  # reads .env

    def port(name: str, default: int) -> int:
        return int(env.get(name, str(default)))

    cfg = StackConfig(
        app_port=port("APP_PORT", 8000),
        app_instances=max(1, port("APP_INSTANCES", 1)),
        worker_instances=max(1, port("WORKER_INSTANCES", 1)),
        workers=port("GUNICORN_WORKERS", 3),
        seed_size=env.get("SEED_SIZE", "small"),
        worker_metrics_port=port("CELERY_METRICS_PORT", 9808),
        prometheus_port=port("PROMETHEUS_PORT", 9090),
        alertmanager_port=port("ALERTMANAGER_PORT", 9093),
        redis_exporter_port=port("REDIS_EXPORTER_PORT", 9121),
        sink_http_port=port("SINK_HTTP_PORT", 9099),
        sink_smtp_port=port("SINK_SMTP_PORT", 1025),
        grafana_port=port("GRAFANA_PORT", 3000),
        scrape_interval=env.get("STACK_SCRAPE_INTERVAL", "5s"),
        alert_group_wait=env.get("STACK_ALERT_GROUP_WAIT", "5s"),
        ha=env.get_bool("STACK_HA"),
        prometheus2_port=port("PROMETHEUS2_PORT", 9092),
        alertmanager2_port=port("ALERTMANAGER2_PORT", 9095),
        alertmanager_cluster_port=port("ALERTMANAGER_CLUSTER_PORT", 9094),
        alertmanager2_cluster_port=port("ALERTMANAGER2_CLUSTER_PORT", 9096),
    )
    long_term_config(cfg, env)
    cfg.mode = env.get("STACK_ENV", "development")
    if cfg.mode not in MODES:
        raise SystemExit(f"STACK_ENV must be one of {', '.join(MODES)}; got {cfg.mode!r}")
    # STACK_REDIS=1 / STACK_POSTGRES=1: the stack's own Redis and PostgreSQL (the game day stops them), never
    # the machine's shared servers.
    own_redis = env.get_bool("STACK_REDIS")
    default_redis = f"redis://{cfg.host}:{port('STACK_REDIS_PORT', 6380) if own_redis else 6379}/0"
    cfg.redis_url = env.get("REDIS_URL", default_redis)
    cfg.start_redis = not redis_answers(cfg.redis_url)
    if env.get_bool("STACK_POSTGRES"):
        cfg.postgres_port = port("STACK_POSTGRES_PORT", 5433)
        cfg.database_url = f"postgres://postgres@{cfg.host}:{cfg.postgres_port}/postgres"
    else:
        cfg.database_url = env.get("DATABASE_URL", f"sqlite:///{ROOT / 'var' / 'studio.sqlite3'}")
    base = cfg.redis_url.rsplit("/", 1)[0]
    cfg.env = {
        "ENVIRONMENT": "development",
        "DJANGO_SETTINGS_MODULE": "config.settings.development",
        "DATABASE_URL": cfg.database_url,
        "REDIS_URL": cfg.redis_url,
        "CACHE_URL": env.get("CACHE_URL", f"{base}/1"),
        "CELERY_BROKER_URL": env.get("CELERY_BROKER_URL", cfg.redis_url),
        "PYTHONUNBUFFERED": "1",
        # Silk adds ~5 ms to every request: off in the stack that load tests measure; SILK_ENABLED=1 for /silk/.
        "SILK_ENABLED": env.get("SILK_ENABLED", "0"),
        "STUDIO_STACK": str(RUN_DIR),  # every process we start carries this mark; `down` looks for it
        "STACK_RUN_DIR": str(RUN_DIR),  # where stack.supervise writes pid files and looks for hold files
    }
    if cfg.mode == "production":
        cfg.env.update(production_env(cfg, env))
    return cfg


def services(cfg: StackConfig) -> list[Service]:
    """Every service of the stack, in start order; those that cannot start carry the reason and the fix."""
    py = shlex.quote(str(BIN))
    app = shlex.quote(str(APP_DIR))
    run = RUN_DIR
    q = lambda p: shlex.quote(str(p))
    at = lambda port: f"{cfg.host}:{port}"
    out: list[Service] = []
    if cfg.postgres_port:
        out.append(Service("postgres", postgres.server_command(run / "postgres", cfg.host, cfg.postgres_port),
                           port=cfg.postgres_port, url=cfg.database_url))
    if cfg.start_redis:
        out.append(Service(
            "redis",
            f"exec {tools.find('redis-server') or 'redis-server'} --bind {cfg.host} --port {cfg.redis_port} "
            f"--save '' --appendonly no --dir {q(run)}",
            port=cfg.redis_port, url=cfg.redis_url))
    else:
        out.append(Service("redis", "", port=cfg.redis_port, url=cfg.redis_url, reused=True,
                           note="already answering on REDIS_URL"))
    for i, app_port in enumerate(cfg.app_ports):
        name = "app" if i == 0 else f"app{i + 1}"
        out.append(Service(
            name,
            # Each server gets its own multiprocess directory: gunicorn wipes its own at start.
            f"cd {app} && PROMETHEUS_MULTIPROC_DIR={q(run / f'prometheus-{name}')} "
            f"exec {py}/gunicorn -c config/gunicorn.py --bind {at(app_port)} "
            f"--workers {cfg.workers} config.wsgi:application",
            health_url=f"http://{at(app_port)}/readyz", url=f"http://{at(app_port)}/api/v1/courses/",
            target=["studio-app", at(app_port)]))
    for i, metrics_port in enumerate(cfg.worker_metrics_ports):
        name = "worker" if i == 0 else f"worker{i + 1}"
        wdir = q(run / f"prometheus-{name}")  # each worker's multiprocess metrics, fresh each start
        out.append(Service(
            name,
            f"cd {app} && rm -rf {wdir} && mkdir -p {wdir} && PROMETHEUS_MULTIPROC_DIR={wdir} "
            f"CELERY_METRICS_PORT={metrics_port} "
            f"exec {py}/celery -A config worker -l info --concurrency 2 -n {name}@%h",
            health_url=f"http://{at(metrics_port)}/metrics", target=["studio-worker", at(metrics_port)]))
    out += [
        Service("beat", f"cd {app} && exec {py}/celery -A config beat -l info -s {q(run / 'celerybeat-schedule')}"),
        Service("sinks", f"exec {py}/python -m stack.sinks --host {cfg.host} --http-port {cfg.sink_http_port} "
                         f"--smtp-port {cfg.sink_smtp_port} --store {q(run / 'pages.jsonl')}",
                health_url=f"{cfg.sink_url}/healthz", url=f"{cfg.sink_url}/pages"),
    ]
    out.append(_monitoring_service(
        "redis-exporter", "redis-exporter",
        lambda b: f"exec {b} -redis.addr {q(cfg.redis_url.rsplit('/', 1)[0])} "
                  f"-web.listen-address {at(cfg.redis_exporter_port)}",
        health_url=f"http://{at(cfg.redis_exporter_port)}/metrics", target=["redis", at(cfg.redis_exporter_port)]))
    out.append(alertmanager_service(cfg, 1))
    if cfg.long_term:
        out.append(_monitoring_service(
            "victoria-metrics", "victoria-metrics", lambda b: long_term_command(cfg, b),
            # /health and /metrics answer without the basic auth that guards writes and queries.
            health_url=f"{cfg.long_term_url}/health", url=cfg.long_term_url,
            target=[prometheus_config.LONG_TERM_JOB, at(cfg.long_term_port)]))
    out.append(prometheus_service(cfg, 1))
    if cfg.ha:  # the second members start last: each joins (gossip) or federates (prometheus-peer) the first
        out += [alertmanager_service(cfg, 2), prometheus_service(cfg, 2)]
    grafana = shutil.which("grafana-server") or shutil.which("grafana")
    grafana_url = f"http://{at(cfg.grafana_port)}"
    if grafana:
        out.append(Service(
            "grafana",
            # The SLO panels' data source: the long-term store, or Prometheus when there is none.
            f"LONG_TERM_URL={cfg.long_term_url if cfg.long_term else cfg.prometheus_url} {long_term_credentials(cfg)}"
            f"PROMETHEUS_URL={cfg.prometheus_url} GRAFANA_DASHBOARDS_DIR={q(ROOT / 'grafana' / 'dashboards')} "
            f"exec {grafana} {'server ' if grafana.endswith('grafana') else ''}"
            f"--homepath /usr/share/grafana --config {q(run / 'grafana.ini')}",
            health_url=f"{grafana_url}/api/health", url=grafana_url, promised=False))
    else:
        out.append(Service("grafana", "", url=grafana_url, promised=False,
                           note='grafana-server is not installed and there is no Docker engine; '
                                'see README "Grafana without Docker"'))
    return out


def member_name(kind: str, member: int) -> str:
    """STACK_HA's members: "prometheus" and "prometheus2"; its files and data directories are named alike."""
    return kind if member == 1 else f"{kind}{member}"


def alertmanager_service(cfg: StackConfig, member: int) -> Service:
    return _member_service(cfg, "alertmanager", member, (cfg.alertmanager_port, cfg.alertmanager2_port),
                           cfg.alertmanager_urls, "--storage.path",
                           lambda url: f"--web.external-url={url} {alertmanager_cluster_flags(cfg, member)}")


def prometheus_service(cfg: StackConfig, member: int) -> Service:
    return _member_service(cfg, "prometheus", member, (cfg.prometheus_port, cfg.prometheus2_port),
                           cfg.prometheus_urls, "--storage.tsdb.path",
                           lambda url: f"--web.enable-lifecycle --web.external-url={url}")


def _member_service(cfg: StackConfig, kind: str, member: int, ports: tuple[int, int], urls: list[str],
                    storage_flag: str, tail) -> Service:
    """Member `member` (1 or 2) of the Prometheus replicas or the Alertmanager cluster: its own config file,
    data directory, port and URL under names of its own (member_name)."""
    name, url, port = member_name(kind, member), urls[member - 1], ports[member - 1]
    return _monitoring_service(
        name, kind,
        lambda b: f"exec {b} --config.file={_q(RUN_DIR / f'{name}.yml')} "
                  f"{storage_flag}={_q(RUN_DIR / f'{name}-data')} --web.listen-address={cfg.host}:{port} {tail(url)}",
        health_url=f"{url}/-/ready", url=url, target=[kind, f"{cfg.host}:{port}"])


def _q(path: Path) -> str:
    return shlex.quote(str(path))


def alertmanager_cluster_flags(cfg: StackConfig, member: int) -> str:
    """Alertmanager `member` (1 or 2)'s cluster flags: clustering off for the single one; with STACK_HA each
    joins the other (the cluster shares silences and the notification log, so a page goes out once).  Peer
    timeout and gossip intervals stay at their defaults: what they cost in time to page is measured by
    tests/test_ha_alerting.py (the loss of the member that sends first delays a page by the 15 s peer timeout)."""
    if not cfg.ha:
        return "--cluster.listen-address="
    ports = {1: cfg.alertmanager_cluster_port, 2: cfg.alertmanager2_cluster_port}
    me, peer = f"{cfg.host}:{ports[member]}", f"{cfg.host}:{ports[3 - member]}"
    return f"--cluster.listen-address={me} --cluster.advertise-address={me} --cluster.peer={peer}"


def _monitoring_service(name: str, tool: str, command, **kw) -> Service:
    """A service run from a system tool: started when installed, otherwise named with the command that installs it."""
    binary = tools.find(tool)
    if binary is None:
        return Service(name, "", **kw, note=f"{tools.TOOLS[tool].binaries[0]} is not installed; run `make tools`")
    return Service(name, command(shlex.quote(binary)), **kw)


def write_configs(cfg: StackConfig, svcs: list[Service]) -> None:
    """Render the monitoring configuration for these hosts and ports into RUN_DIR."""
    targets = RUN_DIR / "targets"
    targets.mkdir(parents=True, exist_ok=True)
    (targets / "app.json").write_text(json.dumps(
        [{"targets": [f"{cfg.host}:{p}" for p in cfg.app_ports], "labels": {"deployment": "local"}}], indent=2))
    (targets / "worker.json").write_text(json.dumps(
        [{"targets": [f"{cfg.host}:{p}" for p in cfg.worker_metrics_ports], "labels": {"deployment": "local"}}],
        indent=2))
    # Both replicas remote_write to the store (it keeps each replica's series apart by the replica label).
    long_term = long_term_render_args(cfg) if any(s.name == "victoria-metrics" and s.started for s in svcs) else {}
    alertmanagers = [f"{cfg.host}:{cfg.alertmanager_port}", f"{cfg.host}:{cfg.alertmanager2_port}"]
    replicas = {"prometheus": ("a", f"{cfg.host}:{cfg.prometheus_port}"),
                "prometheus2": ("b", f"{cfg.host}:{cfg.prometheus2_port}")}
    for name, (replica, address) in replicas.items() if cfg.ha else [("prometheus", (None, None))]:
        ha = {}
        if cfg.ha:  # each replica sends to both Alertmanagers and federates the other's firing alerts
            ha = {"alertmanagers": alertmanagers, "replica": replica,
                  "peers": [a for n, (_, a) in replicas.items() if n != name]}
        (RUN_DIR / f"{name}.yml").write_text(prometheus_config.render_local(
            targets_dir=targets, rules_dir=ROOT / "prometheus" / "rules",
            redis_exporter=f"{cfg.host}:{cfg.redis_exporter_port}", alertmanager=f"{cfg.host}:{cfg.alertmanager_port}",
            prometheus=address or f"{cfg.host}:{cfg.prometheus_port}", scrape_interval=cfg.scrape_interval,
            evaluation_interval=cfg.scrape_interval,
            # When /metrics is closed by a token, Prometheus reads the same file the app does.
            metrics_credentials_file=cfg.env.get("METRICS_TOKEN_FILE") or os.environ.get("METRICS_TOKEN_FILE") or None,
            environment=cfg.mode, **ha, **long_term))  # the pages' environment= label; the targets say deployment=local
    for name, peer_name in (("alertmanager", "am1"), ("alertmanager2", "am2")) if cfg.ha else [("alertmanager", None)]:
        (RUN_DIR / f"{name}.yml").write_text(alertmanager_config.render_local(
            smtp_smarthost=f"{cfg.host}:{cfg.sink_smtp_port}", webhook_base_url=cfg.sink_url,
            # A development stack: a fire drill's page within seconds, not after the production 30 s.
            group_wait=cfg.alert_group_wait,
            # A cluster member: its own heartbeat to the dead-man's switch (the rest is deduplicated).
            peer_name=peer_name))
    if any(s.name == "grafana" and s.started for s in svcs):
        (RUN_DIR / "grafana.ini").write_text(
            f"[server]\nhttp_addr = {cfg.host}\nhttp_port = {cfg.grafana_port}\n"
            f"[paths]\ndata = {RUN_DIR / 'grafana-data'}\nprovisioning = {ROOT / 'grafana' / 'provisioning'}\n")


def long_term_render_args(cfg: StackConfig) -> dict:
    auth = ({"remote_write_username": cfg.long_term_username,
             "remote_write_password_file": cfg.long_term_password_file} if cfg.long_term_password_file else {})
    return {"remote_write_url": f"{cfg.long_term_url}/api/v1/write",
            "long_term_target": f"{cfg.host}:{cfg.long_term_port}", **auth}


def render_procfile(svcs: list[Service]) -> str:
    """Each service under stack.supervise: one that exits is started again instead of stopping the stack."""
    py = shlex.quote(str(BIN / "python"))
    return "".join(f"{s.name}: exec {py} -m stack.supervise {s.name} -- {shlex.quote(s.command)}\n"
                   for s in svcs if s.started)


def render_envfile(cfg: StackConfig) -> str:
    return "".join(f"{k}={v}\n" for k, v in sorted(cfg.env.items()))


def child_env(cfg: StackConfig) -> dict:
    return {**os.environ, **cfg.env}
