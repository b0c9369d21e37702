"""Request ids and the per-request context that logs and Sentry events carry.

`RequestContextMiddleware` (in MIDDLEWARE right after the token authentication) does, per request:
  * take a sane `X-Request-ID` from the client or proxy, or make one; expose it as
    `request.request_id`, to log records (observability.logging.RequestIdFilter) and as the
    Sentry tag `request_id`; return it in the `X-Request-ID` response header;
  * remember the request so that a Sentry event captured while it runs gets the user
    (observability.context.user_event_processor) -- nothing is looked up unless an event is sent;
  * report a 5xx response that no exception explains (a view returning 500/503 itself) to Sentry;
  * hand the request's exact secrets (Authorization credential, password fields, ...) to Sentry's
    scrubbing, computed only if an event of the request is sent (observability.scrubbing.request_secrets).

Cheap on purpose (a few microseconds): no database access, no user evaluation.
"""
from __future__ import annotations

import os
import re
import weakref

import sentry_sdk
from django.conf import settings
from django.core.signals import got_request_exception
from django.dispatch import receiver

from observability import scrubbing
from observability.context import bind_loaded_user, current_request
from observability.logging import request_id_var

REQUEST_ID_HEADER = "HTTP_X_REQUEST_ID"
RESPONSE_HEADER = "X-Request-ID"
# Letters, digits and a few separators, at most 128 characters: UUIDs, hex, ULIDs, AWS/GCP trace ids.
_SANE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:+/=-]{0,127}")



def new_request_id() -> str:
    return os.urandom(16).hex()


def sane_request_id(value: str | None) -> str | None:
    if value and _SANE_ID.fullmatch(value):
        return value
    return None


def get_request_id() -> str | None:
    return request_id_var.get()


@receiver(got_request_exception, dispatch_uid="observability.request_id.mark_exception")
def _mark_exception(sender, request=None, **kwargs):
    """The DjangoIntegration reports this exception; the 5xx check must not report it twice."""
    if request is not None:
        request._observability_exception = True


class RequestContextMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response
        self.ignored_5xx_paths = frozenset(getattr(settings, "SENTRY_IGNORED_5XX_PATHS", ()))

    def __call__(self, request):
        rid = sane_request_id(request.META.get(REQUEST_ID_HEADER)) or new_request_id()
        request.request_id = rid
        rid_token = request_id_var.set(rid)
        req_token = current_request.set(request)
        sentry_on = _sentry_active()
        if sentry_on:
            _sentry_tag_request_id(rid)
            _sentry_remember_secrets(request)
        try:
            response = self.get_response(request)
        finally:
            current_request.reset(req_token)
            request_id_var.reset(rid_token)
        response[RESPONSE_HEADER] = rid
        if sentry_on:
            if response.status_code >= 500 and not getattr(request, "_observability_exception", False) \
                    and request.path not in self.ignored_5xx_paths:
                _capture_5xx(request, response)
            # A transaction is finished after this middleware returns: give it the user if the
            # view already loaded one (never load it just for this).
            bind_loaded_user(request)
        return response


def _sentry_active() -> bool:
    return sentry_sdk.get_client().is_active()


def _sentry_tag_request_id(rid: str) -> None:
    sentry_sdk.get_isolation_scope().set_tag("request_id", rid)


def _sentry_remember_secrets(request) -> None:
    """The request's exact secrets go, in the hint, to before_send (observability.sentry.scrub_event) of any
    event or transaction of this request -- the transaction finishes after this middleware returned, so a
    processor on the request's isolation scope, not the current_request variable.  Read only when an event
    is sent; a weak reference, so the scope never keeps the request alive."""
    ref = weakref.ref(request)

    def processor(event: dict, hint: dict) -> dict:
        live = ref()
        if live is not None:
            hint[scrubbing.SECRETS_HINT] = scrubbing.request_secrets(live)
        return event

    sentry_sdk.get_isolation_scope().add_event_processor(processor)


def _capture_5xx(request, response) -> None:
    match = getattr(request, "resolver_match", None)
    route = "/" + match.route if match is not None and match.route else request.path[:200]
    status = response.status_code
    with sentry_sdk.new_scope() as scope:
        scope.fingerprint = ["http-5xx", str(status), route]
        scope.set_tag("http.status_code", str(status))
        sentry_sdk.capture_message(f"HTTP {status} {request.method} {route}", level="error")
