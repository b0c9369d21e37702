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
from typing import Any

import sentry_sdk
from sentry_sdk.integrations.celery import CeleryIntegration
from sentry_sdk.integrations.django import DjangoIntegration
from sentry_sdk.integrations.logging import LoggingIntegration
from sentry_sdk.integrations.redis import RedisIntegration
from sentry_sdk.integrations.stdlib import StdlibIntegration
from sentry_sdk.scope import add_global_event_processor
from sentry_sdk.transport import HttpTransport
from sentry_sdk.utils import BadDsn

from observability import scrubbing
from observability.context import user_event_processor
from observability.labels import is_security_logger

_state: dict[str, Any] = {"initialised": False, "processor": False}


def _transport_class(timeout: float) -> type[HttpTransport]:
    """The SDK's HTTP transport with a shorter per-envelope timeout than its 30 s."""
    return type("StudioSentryTransport", (HttpTransport,), {"TIMEOUT": timeout})


def scrub_event(event: dict, hint: dict | None = None) -> dict:
    """before_send / before_send_transaction: secrets always, e-mail addresses unless PII is on.

    Passwords, tokens, API keys, session ids and the Authorization/Cookie headers are replaced by
    "[Filtered]" wherever they appear (request, frame locals, extra, contexts, breadcrumbs);
    `user.email` is only kept when SENTRY_SEND_PII is on.
    """
    from django.conf import settings

    keep_email = bool(getattr(settings, "SENTRY_SEND_PII", False))
    user = event.get("user")
    if isinstance(user, dict) and not keep_email:
        user.pop("email", None)
    for key, value in event.items():
        if key in ("user", "sdk", "_meta", "debug_meta", "spans") or not isinstance(value, (dict, list, str)):
            continue
        event[key] = scrubbing.scrub(value, keep_email=keep_email)
    # Spans (transactions): their description and data may carry query strings and Redis arguments.
    for span in event.get("spans") or ():
        if isinstance(span, dict):
            if isinstance(span.get("description"), str):
                span["description"] = scrubbing.scrub_text(span["description"], keep_email=keep_email)
            if isinstance(span.get("data"), dict):
                scrubbing.scrub(span["data"], keep_email=keep_email)
    return event


def before_send(event: dict, hint: dict | None = None) -> dict | None:
    """Drop the events of Django's security loggers (django.security.*, which the LoggingIntegration
    turns into error events: DisallowedHost, RequestDataTooBig, ...): any client causes them at will,
    they are no fault of the system, and studio_security_events_total counts them.  Their records stay
    breadcrumbs of later events.  Scrub everything else (scrub_event)."""
    if is_security_logger(str(event.get("logger") or "")):
        return None
    return scrub_event(event, hint)


def sentry_options(settings: Any) -> dict:
    """The keyword arguments of sentry_sdk.init(), from Django settings (or any object with them)."""
    return dict(
        dsn=settings.SENTRY_DSN,
        environment=settings.ENVIRONMENT,
        release=settings.SENTRY_RELEASE or settings.RELEASE,
        traces_sample_rate=settings.SENTRY_TRACES_SAMPLE_RATE,
        profiles_sample_rate=settings.SENTRY_PROFILES_SAMPLE_RATE,
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
        before_send=before_send,
        before_send_transaction=scrub_event,
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
