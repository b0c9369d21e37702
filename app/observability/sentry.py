"""Sentry, initialised in one place from the settings (which read the environment).

`init_sentry()` is called by ObservabilityConfig.ready() -- every Django process: gunicorn workers,
manage.py commands, Celery workers and beat (Celery's Django fix-up runs django.setup()) -- and
again, harmlessly, from Celery's worker/beat init signals (config/celery.py).  With no SENTRY_DSN
it does nothing: development runs without Sentry unless a DSN is set.

Sentry must never hurt a user request: events are queued to the SDK's background thread
(requests never wait for Sentry), the transport gives up after SENTRY_TRANSPORT_TIMEOUT seconds
per envelope, and a process waits at most SENTRY_SHUTDOWN_TIMEOUT seconds at exit to flush.
"""
from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

import sentry_sdk
from sentry_sdk.integrations.celery import CeleryIntegration
from sentry_sdk.integrations.django import DjangoIntegration
from sentry_sdk.integrations.logging import LoggingIntegration
from sentry_sdk.integrations.redis import RedisIntegration
from sentry_sdk.integrations.stdlib import StdlibIntegration
from sentry_sdk.scope import add_global_event_processor
from sentry_sdk.scrubber import DEFAULT_DENYLIST, EventScrubber
from sentry_sdk.transport import HttpTransport
from sentry_sdk.utils import BadDsn, iter_event_frames

from observability import outages, scrubbing
from observability.context import user_event_processor
from observability.labels import is_security_logger

_state: dict[str, Any] = {"initialised": False, "processor": False}

# The SDK's EventScrubber (first layer: exact key names, before our before_send) with the names this
# project's code and Django's forms use for secrets; "key" is the variable an API token is looked up by.
DENYLIST = [*DEFAULT_DENYLIST, "pwd", "passphrase", "raw_password", "password1", "password2", "old_password",
            "new_password1", "new_password2", "access_token", "refresh_token", "id_token", "client_secret",
            "api-key", "x-api-key", "key", "secret_key", "signature", "routing_key", "dsn", "smtp_password",
            "metrics_token", "csrfmiddlewaretoken", "x-csrftoken"]


def _transport_class(timeout: float) -> type[HttpTransport]:
    """The SDK's HTTP transport with a shorter per-envelope timeout than its 30 s."""
    return type("StudioSentryTransport", (HttpTransport,), {"TIMEOUT": timeout})


def _request_path(event: dict) -> str:
    request = event.get("request")
    url = request.get("url") if isinstance(request, dict) else None
    return urlsplit(url).path if isinstance(url, str) else ""


def _drop_what_authentication_sends(event: dict, no_body_paths: Iterable[str]) -> None:
    """An event of an authentication endpoint carries no request body and no frame locals: both hold the
    password in forms no pattern recognises (a form key split at a "&" in it, `s` in force_bytes)."""
    path = _request_path(event)
    if not path or not any(path.startswith(prefix) for prefix in no_body_paths):
        return
    event["request"].pop("data", None)
    for frame in iter_event_frames(event):
        frame.pop("vars", None)


def _drop_json_sent_as_form(event: dict) -> None:
    """JSON text sent as a form (no JSON content type) is parsed into keys that are pieces of the text,
    split at every "&" and "=" in it: no pattern can tell what was a secret.  Such a body is not sent."""
    request = event.get("request")
    data = request.get("data") if isinstance(request, dict) else None
    if isinstance(data, dict) and any(isinstance(k, str) and k.lstrip()[:1] in ("{", "[") for k in data):
        request["data"] = scrubbing.FILTERED


def scrub_event(event: dict, hint: dict | None = None) -> dict:
    """before_send / before_send_transaction: secrets always, e-mail addresses unless PII is on.

    After the SDK's EventScrubber (DENYLIST), in layers: the request body and frame locals of the
    authentication endpoints (SENTRY_NO_BODY_PATHS) are dropped, as is JSON sent as a form; passwords,
    tokens, API keys, session ids and the Authorization/Cookie headers are replaced by "[Filtered]" wherever
    they appear (request, frame locals, extra, contexts, breadcrumbs, spans), as keys or values, in JSON
    text, query strings and reprs; the exact secrets of the request the event belongs to (the hint, from
    observability.request_id) are replaced wherever they appear.  `user.email` is only kept when
    SENTRY_SEND_PII is on.
    """
    from django.conf import settings

    keep_email = bool(getattr(settings, "SENTRY_SEND_PII", False))
    secrets = tuple((hint or {}).get(scrubbing.SECRETS_HINT) or ())
    _drop_what_authentication_sends(event, getattr(settings, "SENTRY_NO_BODY_PATHS", ()))
    _drop_json_sent_as_form(event)
    user = event.get("user")
    if isinstance(user, dict) and not keep_email:
        user.pop("email", None)
    for key, value in event.items():
        if key in ("user", "sdk", "_meta", "debug_meta", "spans") or not isinstance(value, (dict, list, str)):
            continue
        event[key] = scrubbing.scrub(value, keep_email=keep_email, secrets=secrets)
    # Spans (transactions): their description, data and tags may carry query strings and Redis arguments.
    for span in event.get("spans") or ():
        if isinstance(span, dict):
            if isinstance(span.get("description"), str):
                span["description"] = scrubbing.scrub_text(span["description"], keep_email=keep_email,
                                                           secrets=secrets)
            for field in ("data", "tags"):
                if isinstance(span.get(field), dict):
                    scrubbing.scrub(span[field], keep_email=keep_email, secrets=secrets)
    return event


def scrub_log(log: dict, hint: dict | None = None) -> dict:
    """before_send_log (Sentry's logs, when enable_logs is turned on): the same scrubbing as events."""
    from django.conf import settings

    keep_email = bool(getattr(settings, "SENTRY_SEND_PII", False))
    for field in ("body", "attributes"):
        if isinstance(log.get(field), (str, dict)):
            log[field] = scrubbing.scrub(log[field], keep_email=keep_email)
    return log


def before_send(event: dict, hint: dict | None = None) -> dict | None:
    """Drop the events of Django's security loggers (django.security.*, which the LoggingIntegration
    turns into error events: DisallowedHost, RequestDataTooBig, ...): any client causes them at will,
    they are no fault of the system, and studio_security_events_total counts them.  Their records stay
    breadcrumbs of later events.  Drop the events of exceptions that belong to a dependency outage, but
    for the outage's own "started" line: one event per outage and process, not one per failed request
    (observability.outages).  Scrub everything else (scrub_event)."""
    logger_name = str(event.get("logger") or "")
    if is_security_logger(logger_name):
        return None
    message = str((event.get("logentry") or {}).get("message") or "")
    if outages.is_broker_reconnect(logger_name, message):  # the broker outage's start line is its event
        return None
    exc_info = (hint or {}).get("exc_info")
    if exc_info and logger_name != outages.LOGGER_NAME and outages.outage_of(exc_info[1]) is not None:
        return None
    return scrub_event(event, hint)


class TracesSampler:
    """traces_sampler: no transaction for the probes and /metrics (SENTRY_UNTRACED_PATHS), polled every few
    seconds by the orchestrator and Prometheus: at 10 % a steady stream of sampled transactions with nothing
    to learn from (their latency and status are Prometheus' business), each about a millisecond of CPU to
    record, serialise and send (docs/benchmarks.md 4b).  Everything else as traces_sample_rate does
    it: an incoming trace's decision is kept, else SENTRY_TRACES_SAMPLE_RATE."""

    __slots__ = ("rate", "untraced")

    def __init__(self, rate: float, untraced_paths: Iterable[str]):
        self.rate = rate
        self.untraced = frozenset(untraced_paths)

    def __call__(self, sampling_context: dict) -> float:
        environ = sampling_context.get("wsgi_environ")
        if environ is not None and environ.get("PATH_INFO") in self.untraced:
            return 0.0
        parent = sampling_context.get("parent_sampled")
        if parent is not None:
            return 1.0 if parent else 0.0
        return self.rate


def sentry_options(settings: Any) -> dict:
    """The keyword arguments of sentry_sdk.init(), from Django settings (or any object with them)."""
    return dict(
        dsn=settings.SENTRY_DSN,
        environment=settings.ENVIRONMENT,
        release=settings.SENTRY_RELEASE or settings.RELEASE,
        traces_sample_rate=settings.SENTRY_TRACES_SAMPLE_RATE,
        traces_sampler=TracesSampler(settings.SENTRY_TRACES_SAMPLE_RATE,
                                     getattr(settings, "SENTRY_UNTRACED_PATHS", ())),
        profiles_sample_rate=settings.SENTRY_PROFILES_SAMPLE_RATE,
        # Release health (crash-free sessions per release) needs a release: without SENTRY_RELEASE every build is
        # "dev" and the per-request session start/end and their flushes are CPU for nothing.
        auto_session_tracking=bool(settings.SENTRY_RELEASE),
        # The SDK's own PII collection (IP addresses, cookies, SQL parameters) stays off; the user's
        # e-mail is added by observability.context when SENTRY_SEND_PII is on.
        integrations=[
            # Middleware and signal spans cost time on every request; views, queries, cache and
            # Redis spans are what the guide asks for.
            DjangoIntegration(transaction_style="url", middleware_spans=False, signals_spans=False,
                              cache_spans=False),
            CeleryIntegration(monitor_beat_tasks=False),
            RedisIntegration(),
            LoggingIntegration(level=logging.INFO, event_level=logging.ERROR),  # breadcrumbs / events
            StdlibIntegration(),  # outgoing HTTP (http.client, urllib3) as spans
        ],
        # Layered: the SDK's scrubber by key name, then ours (keys and values, every encoding, the request's
        # own secrets; no body from the authentication endpoints).  Breadcrumbs leave the process only
        # inside events, where before_send scrubs them: no before_breadcrumb cost on every query and log line.
        event_scrubber=EventScrubber(denylist=list(DENYLIST), recursive=True, send_default_pii=False),
        before_send=before_send,
        before_send_transaction=scrub_event,
        before_send_log=scrub_log,
        transport=_transport_class(settings.SENTRY_TRANSPORT_TIMEOUT),
        shutdown_timeout=settings.SENTRY_SHUTDOWN_TIMEOUT,
        max_request_body_size="small",
        debug=settings.SENTRY_DEBUG,
    )


def init_sentry(*, force: bool = False) -> bool:
    """Initialise Sentry from settings once per process; True when Sentry is on.

    `force` re-initialises (tests change the DSN and sample rates with override_settings).
    """
    from django.conf import settings

    if _state["initialised"] and not force:
        return sentry_sdk.get_client().is_active()
    _state["initialised"] = True
    if not settings.SENTRY_DSN:
        if force:
            _switch_off()  # a previous client (tests re-initialise)
        return False
    if not _state["processor"]:
        add_global_event_processor(user_event_processor)
        _state["processor"] = True
    try:
        sentry_sdk.init(**sentry_options(settings))
    except BadDsn as exc:  # a typo in the DSN must not take the site down; check_monitoring reports it
        logging.getLogger("observability").error("Sentry is off: SENTRY_DSN is malformed (%s)", exc)
        _switch_off()
        return False
    _skip_middleware_wrappers()
    # The SDK logs debug lines on every request (sampling decisions) and filters them only after
    # building the record: keep its logger at WARNING unless SENTRY_DEBUG is on.
    logging.getLogger("sentry_sdk.errors").setLevel(logging.DEBUG if settings.SENTRY_DEBUG else logging.WARNING)
    return True


def _skip_middleware_wrappers() -> None:
    """Load Django's middleware unwrapped: with middleware_spans=False the SDK's wrapper around each
    of them records nothing, yet costs two function layers and an async check per middleware per
    request (about a tenth of an instrumented request's CPU in the profile; docs/benchmarks.md 4b).
    The request transaction, the view, query, Redis and outgoing-HTTP spans and error capture come
    from the WSGI handler, view, database and client patches, which stay as they are."""
    from sentry_sdk.integrations.django import middleware as sentry_middleware

    _state.setdefault("wrap_middleware", sentry_middleware._wrap_middleware)
    integration = sentry_sdk.get_client().get_integration(DjangoIntegration)
    spans = integration is not None and integration.middleware_spans
    sentry_middleware._wrap_middleware = _state["wrap_middleware"] if spans else _unwrapped


def _unwrapped(middleware: Any, middleware_name: str) -> Any:
    return middleware


def _switch_off() -> None:
    client = sentry_sdk.get_client()
    if client.is_active():
        client.close(timeout=0)
    sentry_sdk.get_global_scope().set_client(None)  # a non-recording client: is_active() is False


def shutdown_sentry(timeout: float | None = None) -> None:
    """Flush and switch Sentry off (tests; the SDK flushes by itself at process exit)."""
    client = sentry_sdk.get_client()
    if client.is_active():
        client.close(timeout=timeout)
    sentry_sdk.get_global_scope().set_client(None)
