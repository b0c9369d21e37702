"""Cache warming: what the API reads most, computed before the first request asks for it.

The payloads are built by the selectors the views use (courses/selectors.py, accounts/selectors.py),
which cache on read: warming is reading, so the keys, versions and timeouts are exactly the views'.

* course lists: the first page (default ordering and size) for every category x level, every
  category, every level and no filter;
* course details: every published course, most enrolled first;
* profiles: up to settings.WARM_CACHE_MAX_USERS active users (active accounts with enrolments,
  most recent login first, then most recent enrolment).

Used by ``manage.py warm_cache`` and, with WARM_CACHE_ON_START=1, by every web process at start
(config/wsgi.py): a daemon thread that never delays or fails start-up.  One process per server
start warms: the first to ``cache.add`` a lock named after the gunicorn master (with Redis, shared
by the workers; with the local-memory cache each worker has its own cache, and warms it).
"""
from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache

from core.api import ApiError
from observability import perf

logger = logging.getLogger(__name__)

Progress = Callable[[str], None]
_LOCK_SECONDS = 3600


@dataclass
class Section:
    name: str
    items: int = 0
    computed: int = 0  # missed the cache and were built (the rest were cached already)
    failed: int = 0
    seconds: float = 0.0

    def line(self) -> str:
        return (f"{self.name}: {self.items} warmed ({self.computed} computed, {self.items - self.computed} "
                f"already cached{f', {self.failed} failed' if self.failed else ''}) in {self.seconds:.2f}s")


def _silent(_line: str) -> None:
    pass


def _warm(section: Section, keys: list, build: Callable, progress: Progress) -> Section:
    started = time.perf_counter()
    total = len(keys)
    step = max(50, -(-total // 10))  # at most ten progress lines per section, none for small ones
    for i, key in enumerate(keys, 1):
        with perf.counting_cache() as tally:
            try:
                build(key)
            except ApiError:  # gone since we listed it (unpublished, deactivated): nothing to warm
                section.failed += 1
                continue
        section.items += 1
        section.computed += tally.misses > 0
        if i % step == 0 and i != total:
            progress(f"  {section.name}: {i}/{total}")
    section.seconds = time.perf_counter() - started
    progress(section.line())
    return section


def course_list_params() -> list[dict]:
    from courses.models import Course

    combos = [(None, None)] + [(c, None) for c in Course.Category.values] + [(None, lv) for lv in Course.Level.values]
    combos += [(c, lv) for c in Course.Category.values for lv in Course.Level.values]
    # The views' defaults (courses/views.py): same parameters, same cache keys.
    return [{"category": c, "level": lv, "q": None, "ordering": "newest", "page": 1,
             "page_size": settings.API_PAGE_SIZE} for c, lv in combos]


def published_slugs() -> list[str]:
    from courses.models import Course

    return list(Course.objects.filter(published=True).order_by("-enrollment_count", "pk")
                .values_list("slug", flat=True))


def active_user_ids(limit: int) -> list[int]:
    from django.contrib.auth import get_user_model
    from django.db.models import F, Max

    return list(
        get_user_model().objects.filter(is_active=True, enrollments__isnull=False)
        .annotate(last_enrolled=Max("enrollments__enrolled_at"))
        .order_by(F("last_login").desc(nulls_last=True), F("last_enrolled").desc(nulls_last=True), "pk")
        .values_list("pk", flat=True)[:limit])


def warm_course_lists(progress: Progress = _silent) -> Section:
    from courses import selectors

    return _warm(Section("course lists"), course_list_params(), lambda p: selectors.list_courses(**p), progress)


def warm_course_details(progress: Progress = _silent) -> Section:
    from courses import selectors

    return _warm(Section("course details"), published_slugs(), selectors.course_detail, progress)


def warm_profiles(user_ids: list[int], progress: Progress = _silent) -> Section:
    from accounts import selectors

    return _warm(Section("profiles"), user_ids, selectors.get_profile, progress)


def warm_all(progress: Progress = _silent, max_users: int | None = None) -> list[Section]:
    limit = settings.WARM_CACHE_MAX_USERS if max_users is None else max_users
    return [warm_course_lists(progress), warm_course_details(progress),
            warm_profiles(active_user_ids(limit), progress)]


def warm_user(user_id: int, progress: Progress = _silent) -> Section:
    """One user's profile; ApiError(404) when there is no such active user."""
    from accounts import selectors

    started = time.perf_counter()
    with perf.counting_cache() as tally:
        selectors.get_profile(user_id)
    section = Section(f"profile of user {user_id}", items=1, computed=int(tally.misses > 0),
                      seconds=time.perf_counter() - started)
    progress(section.line())
    return section


# --- At start-up (WARM_CACHE_ON_START=1) ------------------------------------------------------


def _startup_lock_key() -> str:
    # The gunicorn master's pid: workers of one start share it, a restart gets a new one.
    return f"warm_cache:startup:{socket.gethostname()}:{os.getppid()}"


def _warm_at_start() -> None:
    from django.db import connection

    try:
        acquired = cache.add(_startup_lock_key(), os.getpid(), _LOCK_SECONDS)
        if acquired is None:  # the cache swallowed an error: Redis is down, nothing to warm
            logger.warning("cache warming at start skipped: the cache is unreachable")
            return
        if not acquired:
            logger.info("cache warming at start: another process of this server does it")
            return
        logger.info("cache warming at start: begun in pid %s", os.getpid())
        started = time.perf_counter()
        sections = warm_all(progress=logger.info)
        logger.info("cache warming at start: done in %.2fs (%s)", time.perf_counter() - started,
                    ", ".join(f"{s.name} {s.items}" for s in sections))
    except Exception:  # the app serves without a warm cache; say why
        logger.exception("cache warming at start failed (the app serves anyway, with a cold cache)")
    finally:
        connection.close()  # this thread's own connection


def warm_on_start() -> threading.Thread | None:
    """Start warming in a daemon thread when WARM_CACHE_ON_START is on; returns at once."""
    if not getattr(settings, "WARM_CACHE_ON_START", False):
        return None
    thread = threading.Thread(target=_warm_at_start, name="studio-warm-cache", daemon=True)
    thread.start()
    return thread
