"""Sign-in throttling: failed sign-ins are counted per client address and per username in the shared cache
(Redis: every gunicorn worker and instance sees the same counts), and once either count reaches its limit the
next sign-ins are refused before any password is hashed, until the window ends.

Counting is django-ratelimit's (get_usage: atomic add/incr in the cache, fixed windows with a per-key offset,
the time left for Retry-After), used as two counters per limit: attempts, counted when one starts, and
successes, counted when one succeeds; failures are the difference.  Counting the attempt up front is what
holds the limit under a concurrent attack (checking failures, then counting them when the password check
ends half a second later, let every attempt already in flight through: a dozen per window beyond the limit
with three workers of four threads); subtracting successes is what keeps a classroom behind one address, or
a user who signs in often, from ever being throttled.  Not django-ratelimit's decorator: it counts requests,
not failures, and the refusal belongs in the authentication backend (accounts/backends.py) so that every
sign-in path, the admin's included, is covered.  django-axes was the other candidate and fits less well: one
failure limit for addresses and usernames alike, its own tables and middleware, a request-less
authenticate() (the test client's login()) refused, and with the cache down its failure counter becomes a
TypeError, i.e. a 500 at sign-in.

When the cache is unreachable the throttle fails open (sign-ins work, unthrottled) and says so in the log,
once a minute at most, however many sign-ins pass meanwhile.
"""
from __future__ import annotations

import logging
import re
import threading
import time
from dataclasses import dataclass

from django.conf import settings
from django_ratelimit.core import get_usage

from core.client_address import client_key
from monitoring_spec import contract

logger = logging.getLogger(__name__)
# A security event, not an error (observability.errors counts the records of django.security.*).
throttled_log = logging.getLogger(f"django.security.{contract.SIGNIN_THROTTLED_EVENT}")

ADDRESS, USERNAME = "address", "username"
RATE_RE = re.compile(r"[1-9][0-9]{0,5}/(?:[1-9][0-9]{0,3})?[smhd]")  # "10/15m": 10 failures per 15 minutes
FAIL_OPEN_LOG_INTERVAL = 60.0


@dataclass(frozen=True)
class Throttled:
    scope: str  # ADDRESS or USERNAME: which limit was reached
    retry_after: int  # seconds until the window ends


def _rates() -> tuple[tuple[str, str], ...]:
    return ((ADDRESS, settings.SIGNIN_THROTTLE_ADDRESS_RATE), (USERNAME, settings.SIGNIN_THROTTLE_USERNAME_RATE))


def _key_value(scope: str, request, username: str) -> str:
    # Usernames are matched exactly at sign-in; the throttle folds case so "Alice" and "alice" share a count.
    return client_key(request) if scope == ADDRESS else username.casefold()[:150]


class _FailOpenLog:
    """One WARNING when the cache first fails, then one a minute at most with how many checks passed unthrottled."""

    def __init__(self):
        self._lock = threading.Lock()
        self._last = -FAIL_OPEN_LOG_INTERVAL
        self._skipped = 0

    def __call__(self, exc: BaseException | None) -> None:
        now = time.monotonic()
        with self._lock:
            self._skipped += 1
            if now - self._last < FAIL_OPEN_LOG_INTERVAL:
                return
            skipped, self._skipped, self._last = self._skipped, 0, now
        logger.warning("sign-in throttle unavailable, failing open (%d check(s) unthrottled in the last %.0f s): %s",
                       skipped, FAIL_OPEN_LOG_INTERVAL, f"{type(exc).__name__}: {exc}" if exc else "cache unreachable")


_fail_open = _FailOpenLog()


def _usage(request, group: str, rate: str, value: str, increment: bool) -> dict | None:
    try:
        usage = get_usage(request, group=group, key=lambda _group, _request: value, rate=rate, increment=increment)
    except Exception as exc:  # a cache that raises instead of ignoring: sign-ins must still work
        _fail_open(exc)
        return None
    if usage is None:  # RATELIMIT_FAIL_OPEN: the cache could not be read or written
        _fail_open(None)
    return usage


def enabled(request) -> bool:
    # No request (the test client's login(), a management command): nobody to throttle, nothing to key on.
    return request is not None and settings.SIGNIN_THROTTLE_ENABLED


def begin(request, username: str) -> Throttled | None:
    """Count a sign-in attempt; Throttled when the failures before it (and the attempts still in flight) reached a
    limit: the attempt is refused, logged as a security event, and must not go on to the password check."""
    if not enabled(request):
        return None
    for scope, rate in _rates():
        value = _key_value(scope, request, username)
        attempts = _usage(request, f"signin:{scope}", rate, value, increment=True)
        if attempts is None:
            continue
        successes = _usage(request, f"signin:{scope}:ok", rate, value, increment=False)
        if successes is None:
            continue
        if attempts["count"] - successes["count"] > attempts["limit"]:
            throttled = Throttled(scope, max(1, int(attempts["time_left"])))
            throttled_log.warning("Too Many Requests (sign-in throttled by %s): %s", scope, request.path[:200],
                                  extra={"throttle_scope": scope, "retry_after": throttled.retry_after})
            return throttled
    return None


def succeeded(request, username: str) -> None:
    """The attempt begin() counted succeeded: it is no failure."""
    if not enabled(request):
        return
    for scope, rate in _rates():
        _usage(request, f"signin:{scope}:ok", rate, _key_value(scope, request, username), increment=True)


def rate_errors(names=("SIGNIN_THROTTLE_ADDRESS_RATE", "SIGNIN_THROTTLE_USERNAME_RATE")) -> list[str]:
    """The throttle settings that are not rates django-ratelimit reads the way they look ("10/15m")."""
    return [name for name in names if not RATE_RE.fullmatch(str(getattr(settings, name, "")))]
