"""The guide's pre-launch checklist (section 8), automated.

    python manage.py check_monitoring [--prometheus-url URL] [--alertmanager-url URL] [--send-test]

Checks: SENTRY_DSN set and well formed; ENVIRONMENT is production; sample rates within 0..1;
release set; Alertmanager receivers for every channel of monitoring_spec.routing.CHANNELS (from
Alertmanager's /api/v2/status when a URL is given, else from the environment variables that
configure them); the guide's alert rules loaded in Prometheus (when a URL is given).
`--send-test` sends a test event through the SDK and prints its id.

Prints one line per check and exits 1 listing what failed; warnings do not fail.
"""
from __future__ import annotations

import json
import logging
import os
import re
import socket
import time
import urllib.error
import urllib.request
from dataclasses import dataclass

import sentry_sdk
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from sentry_sdk.utils import BadDsn, Dsn

from monitoring_spec.alerts import GUIDE_ALERTS as REQUIRED_ALERTS
from monitoring_spec.routing import CHANNELS, SECRETS_DIR_ENV, channel_problems

PASS, WARN, FAIL = "PASS", "WARN", "FAIL"
HTTP_TIMEOUT = 5.0


@dataclass
class Result:
    status: str
    name: str
    detail: str


def _get_json(url: str) -> dict:
    req = urllib.request.Request(url, headers={"Accept": "application/json"})
    with urllib.request.urlopen(req, timeout=HTTP_TIMEOUT) as resp:
        return json.load(resp)


def _env(name: str) -> str | None:
    value = os.environ.get(name)
    return value if value not in (None, "") else None


class Command(BaseCommand):
    help = "Check the monitoring set-up against the pre-launch checklist; exit 1 if something fails."
    requires_system_checks: list = []

    def add_arguments(self, parser):
        parser.add_argument("--prometheus-url", default=None,
                            help="Prometheus base URL (default: PROMETHEUS_URL); checks the guide's alert rules")
        parser.add_argument("--alertmanager-url", default=None,
                            help="Alertmanager base URL (default: ALERTMANAGER_URL); checks its receivers")
        parser.add_argument("--send-test", action="store_true", help="send a test event to Sentry, print its id")

    def handle(self, *args, **opts):
        results: list[Result] = []
        results += self.check_sentry()
        results += self.check_receivers(opts["alertmanager_url"] or settings.ALERTMANAGER_URL)
        results += self.check_rules(opts["prometheus_url"] or settings.PROMETHEUS_URL)
        if opts["send_test"]:
            results.append(self.send_test())
        for r in results:
            style = {PASS: self.style.SUCCESS, WARN: self.style.WARNING, FAIL: self.style.ERROR}[r.status]
            self.stdout.write(f"{style(f'[{r.status}]')} {r.name}: {r.detail}")
        failed = [r.name for r in results if r.status == FAIL]
        if failed:
            raise CommandError(f"{len(failed)} check(s) failed: {', '.join(failed)}", returncode=1)
        self.stdout.write(self.style.SUCCESS("monitoring is ready for launch"))

    # --- Sentry ---------------------------------------------------------------------------------
    def check_sentry(self) -> list[Result]:
        out = []
        dsn = settings.SENTRY_DSN
        if not dsn:
            out.append(Result(FAIL, "sentry-dsn", "SENTRY_DSN is not set"))
        else:
            try:
                parsed = Dsn(dsn)
            except BadDsn as exc:
                out.append(Result(FAIL, "sentry-dsn", f"SENTRY_DSN is malformed: {exc}"))
            else:
                where = f"host {parsed.host}, project {parsed.project_id}"
                if parsed.scheme != "https":
                    out.append(Result(WARN, "sentry-dsn", f"well formed ({where}) but not https"))
                else:
                    out.append(Result(PASS, "sentry-dsn", f"well formed ({where})"))
        env = settings.ENVIRONMENT
        out.append(Result(PASS, "environment", "production") if env == "production"
                   else Result(FAIL, "environment", f"ENVIRONMENT is {env!r}, expected 'production'"))
        for kind, name in (("traces", "SENTRY_TRACES_SAMPLE_RATE"), ("profiles", "SENTRY_PROFILES_SAMPLE_RATE")):
            rate, check = getattr(settings, name), f"sample-rate-{kind}"
            if not isinstance(rate, (int, float)) or not 0 <= rate <= 1:
                out.append(Result(FAIL, check, f"{name}={rate!r} is outside 0..1"))
            elif rate == 0:
                out.append(Result(WARN, check, f"{name}=0: no {kind} at all"))
            else:
                out.append(Result(PASS, check, f"{name}={rate:g}" + (" (0.1 recommended)" if rate > 0.5 else "")))
        release = settings.SENTRY_RELEASE
        out.append(Result(PASS, "release", f"SENTRY_RELEASE={release}") if release and release != "dev"
                   else Result(FAIL, "release", "SENTRY_RELEASE (or RELEASE) is not set: no release tracking"))
        return out

    # --- Alertmanager ---------------------------------------------------------------------------
    def check_receivers(self, alertmanager_url: str | None) -> list[Result]:
        if alertmanager_url:
            return self._receivers_from_alertmanager(alertmanager_url.rstrip("/"))
        out = []
        for channel in CHANNELS:
            problems = channel_problems(channel)
            if problems:
                out.append(Result(FAIL, f"receiver-{channel.name}", "; ".join(problems)))
            else:
                how = ", ".join([*channel.env, *([f"{SECRETS_DIR_ENV}/{channel.secret_file}"] if channel.secret_file else [])])
                out.append(Result(PASS, f"receiver-{channel.name}", f"configured by {how}"))
        return out

    def _receivers_from_alertmanager(self, url: str) -> list[Result]:
        try:
            status = _get_json(f"{url}/api/v2/status")
        except (OSError, ValueError, urllib.error.URLError) as exc:
            return [Result(FAIL, "alertmanager", f"{url}/api/v2/status: {exc}")]
        original = (status.get("config") or {}).get("original") or ""
        configured = _receiver_kinds(original)
        out = [Result(PASS, "alertmanager", f"{url} answers ({len(configured)} receiver kind(s))")]
        for channel in CHANNELS:
            if channel.alertmanager_key in configured:
                out.append(Result(PASS, f"receiver-{channel.name}", f"{channel.alertmanager_key} in Alertmanager"))
            else:
                out.append(Result(FAIL, f"receiver-{channel.name}", f"no receiver has {channel.alertmanager_key}"))
        return out

    # --- Prometheus -----------------------------------------------------------------------------
    def check_rules(self, prometheus_url: str | None) -> list[Result]:
        if not prometheus_url:
            return [Result(WARN, "alert-rules", "not checked (give --prometheus-url or PROMETHEUS_URL)")]
        url = prometheus_url.rstrip("/") + "/api/v1/rules?type=alert"
        try:
            body = _get_json(url)
        except (OSError, ValueError, urllib.error.URLError) as exc:
            return [Result(FAIL, "alert-rules", f"{url}: {exc}")]
        rules = {}
        for group in (body.get("data") or {}).get("groups") or []:
            for rule in group.get("rules") or []:
                if rule.get("type") == "alerting":
                    rules[rule.get("name")] = rule
        out = []
        for name in REQUIRED_ALERTS:
            rule = rules.get(name)
            if rule is None:
                out.append(Result(FAIL, f"alert-rule-{name}", "not loaded in Prometheus"))
            elif rule.get("health") == "err":
                out.append(Result(FAIL, f"alert-rule-{name}", f"loaded but failing: {rule.get('lastError')}"))
            else:
                out.append(Result(PASS, f"alert-rule-{name}", f"loaded (state {rule.get('state')})"))
        return out

    # --- Test event -----------------------------------------------------------------------------
    def send_test(self) -> Result:
        if not settings.SENTRY_DSN or not sentry_sdk.get_client().is_active():
            return Result(FAIL, "send-test", "Sentry is not initialised (SENTRY_DSN unset or malformed)")
        dsn = Dsn(settings.SENTRY_DSN)
        try:
            socket.create_connection((dsn.host, dsn.port), timeout=HTTP_TIMEOUT).close()
        except OSError as exc:
            return Result(FAIL, "send-test", f"cannot reach {dsn.host}:{dsn.port}: {exc}")
        errors = _SdkErrors()
        sdk_logger = logging.getLogger("sentry_sdk.errors")
        sdk_logger.addHandler(errors)
        try:
            event_id = sentry_sdk.capture_message(
                f"check_monitoring test event from {socket.gethostname()}", level="info")
            timeout = max(float(settings.SENTRY_TRANSPORT_TIMEOUT), 1.0) + 1.0
            started = time.monotonic()
            sentry_sdk.flush(timeout=timeout)
            elapsed = time.monotonic() - started
        finally:
            sdk_logger.removeHandler(errors)
        if event_id is None:
            return Result(FAIL, "send-test", "the SDK dropped the event (before_send or sampling)")
        if errors.messages:
            return Result(FAIL, "send-test", f"event {event_id} not delivered: {errors.messages[-1]}")
        if elapsed >= timeout:
            return Result(FAIL, "send-test", f"event {event_id} not confirmed: Sentry did not answer in {timeout:g}s")
        return Result(PASS, "send-test", f"event {event_id} delivered to {dsn.host} (project {dsn.project_id})")


class _SdkErrors(logging.Handler):
    """Collects the SDK's own error reports (failed deliveries) while the test event is sent."""

    def __init__(self):
        super().__init__(level=logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record):
        if record.levelno >= logging.ERROR or "Rate-limited" in record.getMessage():
            text = record.getMessage()
            if record.exc_info and record.exc_info[1] is not None:
                text += f": {type(record.exc_info[1]).__name__}: {record.exc_info[1]}"
            self.messages.append(text[:300])


def _receiver_kinds(config_text: str) -> set[str]:
    """The *_configs kinds used by any receiver in an Alertmanager configuration (YAML text)."""
    try:
        import yaml
    except ImportError:  # PyYAML is a development dependency: fall back to the keys' spelling
        return {m.group(1) for m in re.finditer(r"^\s*-?\s*(\w+_configs)\s*:\s*(?!\[\s*\])\S*", config_text, re.M)}
    try:
        config = yaml.safe_load(config_text) or {}
    except yaml.YAMLError:
        return set()
    kinds = set()
    for receiver in config.get("receivers") or []:
        for key, value in (receiver or {}).items():
            if key.endswith("_configs") and value:
                kinds.add(key)
    return kinds
