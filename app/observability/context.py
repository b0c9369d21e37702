"""The guide's "Adding Context", as small helpers the views call in one line each.

    from observability import context as obs

    obs.set_feature("course_enrollment")      # tag: feature
    obs.set_course(course)                     # context: course {id, slug, title}; or set_course(slug=slug)
    obs.set_user_type("instructor")            # tag: user_type (the middleware derives it otherwise)

The user (id and username; e-mail only when SENTRY_SEND_PII is on) is added by
`user_event_processor` when an event is actually sent, from the request the middleware
remembers: a request that produces no event never loads its user for Sentry.

Every helper is a no-op when Sentry is off, returns None and never raises into the view.
"""
from __future__ import annotations

import contextvars
import logging
from typing import Any

import sentry_sdk
from django.conf import settings
from django.utils.functional import empty

logger = logging.getLogger(__name__)

# The request being served in this thread/task, set by RequestContextMiddleware.
current_request: contextvars.ContextVar = contextvars.ContextVar("observability_current_request", default=None)

COURSE_FIELDS = ("id", "slug", "title")


def _active() -> bool:
    return sentry_sdk.get_client().is_active()


def set_feature(name: str) -> None:
    if _active():
        sentry_sdk.set_tag("feature", name)


def set_user_type(kind: str) -> None:
    if _active():
        sentry_sdk.set_tag("user_type", kind)


def set_tags(**tags: Any) -> None:
    if _active():
        for key, value in tags.items():
            sentry_sdk.set_tag(key, value)


def set_course(course: Any = None, **fields: Any) -> None:
    """`course` is a Course, a dict with id/slug/title, or None; keyword fields add or override."""
    if not _active():
        return
    data: dict[str, Any] = {}
    if isinstance(course, dict):
        data = {k: course[k] for k in COURSE_FIELDS if course.get(k) is not None}
    elif course is not None:
        data = {k: getattr(course, "pk" if k == "id" else k, None) for k in COURSE_FIELDS}
        data = {k: v for k, v in data.items() if v is not None}
    data.update({k: v for k, v in fields.items() if v is not None})
    sentry_sdk.set_context("course", data)


def user_type_of(user: Any) -> str:
    if user is None or not getattr(user, "is_authenticated", False):
        return "anonymous"
    if getattr(user, "is_superuser", False) or getattr(user, "is_staff", False):
        return "staff"
    return "student"


def user_data(user: Any) -> dict | None:
    """What Sentry may know about `user`: id and username; e-mail only with SENTRY_SEND_PII."""
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    data = {"id": str(user.pk), "username": user.get_username()}
    if getattr(settings, "SENTRY_SEND_PII", False) and getattr(user, "email", ""):
        data["email"] = user.email
    return data


def set_user(user: Any) -> None:
    """Explicitly attach `user` (e.g. in a Celery task acting for a user)."""
    if not _active():
        return
    sentry_sdk.set_user(user_data(user))
    sentry_sdk.set_tag("user_type", user_type_of(user))


def _loaded_user(request) -> Any:
    """request.user if something already evaluated it, else None (no database access here)."""
    user = request.__dict__.get("user")
    wrapped = getattr(user, "_wrapped", None)
    if wrapped is empty:  # a lazy object nobody has looked at yet
        return None
    return wrapped if wrapped is not None else user


def bind_loaded_user(request) -> None:
    user = _loaded_user(request)
    if user is not None and getattr(user, "is_authenticated", False):
        scope = sentry_sdk.get_isolation_scope()
        scope.set_user(user_data(user))
        scope.set_tag("user_type", user_type_of(user))


def user_event_processor(event: dict, hint: dict) -> dict:
    """Global Sentry event processor: the current request's user on error and message events."""
    request = current_request.get()
    if request is None or event.get("type") == "transaction":
        return event
    try:
        user = getattr(request, "user", None)  # loads it now if nothing did: an event is worth a query
        data = user_data(user)
        tags = event.setdefault("tags", {})
        tags.setdefault("user_type", user_type_of(user))
        if data:
            event["user"] = {**(event.get("user") or {}), **data}
            if "email" not in data:
                event["user"].pop("email", None)
    except Exception:  # a broken database must not cost us the event
        logger.debug("could not attach the user to a Sentry event", exc_info=True)
    return event
