"""GET /metrics: the app's Prometheus metrics, protected outside development.

Protection (settings, from the environment):
  METRICS_TOKEN / METRICS_TOKEN_FILE  a bearer token: `Authorization: Bearer <token>` (Prometheus:
                                      `authorization: {credentials_file: ...}`).  The file is read at
                                      every scrape, so a rotated token needs no restart.
  METRICS_ALLOWED_NETWORKS            CIDRs the scraper's address (REMOTE_ADDR) must be in.
When both are set, both must pass.  When neither is, /metrics is open if METRICS_PUBLIC (default:
in development only) and answers 403 otherwise.  Refusals are JSON: 401 (token missing or wrong,
with WWW-Authenticate), 403 (address not allowed, or nothing configured), 503 (token file unreadable).

In multiprocess mode (PROMETHEUS_MULTIPROC_DIR, i.e. under gunicorn) every scrape sums all worker
processes' files, as django-prometheus' own view does, plus the scrape-time collectors and
process_start_time_seconds: the start of the counters, i.e. the gunicorn master's, not the answering
worker's (observability.process_start; in single-process mode the default registry's process collector
exports it).
"""
from __future__ import annotations

import functools
import hmac
import ipaddress
import logging
import os

import prometheus_client
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpResponse
from django.views.decorators.csrf import csrf_exempt

from core.api import error_response
from observability import errors, metrics, multiproc, process_start

logger = logging.getLogger(__name__)

# Collectors the web app's /metrics adds to every scrape (registered on the default registry by
# observability.instrumentation; the worker's are BUILD_INFO and QUEUE_LENGTH, observability.celery_metrics).
WEB_SCRAPE_COLLECTORS = (metrics.BUILD_INFO, errors.ERROR_USERS, metrics.QUEUE_LENGTH)


@functools.lru_cache(maxsize=8)
def parse_networks(cidrs: tuple[str, ...]) -> tuple:
    networks = []
    for cidr in cidrs:
        try:
            networks.append(ipaddress.ip_network(cidr.strip(), strict=False))
        except ValueError:
            raise ImproperlyConfigured(f"METRICS_ALLOWED_NETWORKS: {cidr!r} is not an IP network") from None
    return tuple(networks)


def allowed_networks() -> tuple:
    return parse_networks(tuple(getattr(settings, "METRICS_ALLOWED_NETWORKS", None) or ()))


class TokenUnavailable(Exception):
    pass


def expected_token() -> bytes | None:
    """The configured token; None when no token is configured."""
    token = getattr(settings, "METRICS_TOKEN", None)
    path = getattr(settings, "METRICS_TOKEN_FILE", None)
    if token:
        return token.strip().encode()
    if path:
        try:
            with open(path, "rb") as fh:
                value = fh.read(4096).strip()
        except OSError as exc:
            raise TokenUnavailable(f"METRICS_TOKEN_FILE cannot be read: {exc.strerror}") from None
        if not value:
            raise TokenUnavailable("METRICS_TOKEN_FILE is empty")
        return value
    return None


def _client_address(request):
    try:
        address = ipaddress.ip_address(str(request.META.get("REMOTE_ADDR", "")).strip())
    except ValueError:
        return None
    return getattr(address, "ipv4_mapped", None) or address


def _bearer(request) -> bytes | None:
    scheme, _, credentials = str(request.META.get("HTTP_AUTHORIZATION", "")).strip().partition(" ")
    if scheme.lower() != "bearer" or not credentials.strip():
        return None
    credentials = credentials.strip()
    try:
        return credentials.encode("latin-1")  # WSGI headers are bytes decoded as latin-1
    except UnicodeEncodeError:
        return credentials.encode("utf-8", "surrogateescape")


def refusal(request):
    """None when the request may read the metrics, else the JSON response that refuses it."""
    networks = allowed_networks()
    try:
        token = expected_token()
    except TokenUnavailable as exc:
        logger.warning("/metrics refused: %s", exc)
        return error_response(503, "metrics token unavailable")
    if not networks and token is None:
        if getattr(settings, "METRICS_PUBLIC", False):
            return None
        return error_response(403, "metrics are closed: configure METRICS_TOKEN, METRICS_TOKEN_FILE "
                                   "or METRICS_ALLOWED_NETWORKS")
    if networks:
        address = _client_address(request)
        if address is None or not any(address in network for network in networks):
            return error_response(403, "metrics are not served to this address")
    if token is not None:
        given = _bearer(request)
        if given is None or not hmac.compare_digest(given, token):
            response = error_response(401, "a valid bearer token is required")
            response["WWW-Authenticate"] = 'Bearer realm="metrics"'
            return response
    return None


def registry() -> prometheus_client.CollectorRegistry:
    if "PROMETHEUS_MULTIPROC_DIR" in os.environ or "prometheus_multiproc_dir" in os.environ:
        reg = prometheus_client.CollectorRegistry()
        multiproc.MultiProcessCollector(reg)
        for collector in WEB_SCRAPE_COLLECTORS:
            reg.register(collector)
        reg.register(process_start.ProcessStartCollector())
        return reg
    return prometheus_client.REGISTRY  # the scrape-time collectors are registered on it (apps.py)


@csrf_exempt  # read-only; a POST gets its 405 from here, not a CSRF failure
def metrics_view(request):
    if request.method not in ("GET", "HEAD"):
        response = error_response(405, f"method {request.method[:20]} not allowed", allowed=["GET", "HEAD"])
        response["Allow"] = "GET, HEAD"
        return response
    denied = refusal(request)
    if denied is not None:
        return denied
    response = HttpResponse(prometheus_client.generate_latest(registry()),
                            content_type=prometheus_client.CONTENT_TYPE_LATEST)
    response["Cache-Control"] = "no-store"
    return response
