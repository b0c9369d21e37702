"""python manage.py warm_cache: fill the cache with what the API reads most (core/warming.py).

    python manage.py warm_cache                  # course lists, course details, active users' profiles
    python manage.py warm_cache --user-id 123    # one user's profile
    python manage.py warm_cache --max-users 200  # fewer profiles (default settings.WARM_CACHE_MAX_USERS)
"""
from __future__ import annotations

import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError

from core import warming
from core.api import ApiError
from core.cli import int_at_least


class Command(BaseCommand):
    help = ("Warm the cache: first pages of the course list per category and level, every published "
            "course, the profiles of active users; or one user's profile (--user-id).")

    def add_arguments(self, parser):
        parser.add_argument("--user-id", type=int_at_least(1, "a user id"), metavar="N", help="warm only this user's profile")
        parser.add_argument("--max-users", type=int_at_least(0), metavar="N",
                            help=f"profiles to warm (default WARM_CACHE_MAX_USERS, now {settings.WARM_CACHE_MAX_USERS})")

    def handle(self, *args, user_id: int | None, max_users: int | None, **options):
        backend = settings.CACHES["default"]["BACKEND"]
        self.stdout.write(f"Warming the cache ({backend.rsplit('.', 1)[-1]}, prefix "
                          f"'{settings.CACHES['default'].get('KEY_PREFIX', '')}')")
        if "LocMem" in backend:
            self.stderr.write("note: the cache is local memory: only this process's copy is warmed, not the "
                              "app's (set REDIS_URL or CACHE_URL; or WARM_CACHE_ON_START=1 for each worker)")
        started = time.perf_counter()
        try:
            if user_id is not None:
                warming.warm_user(user_id, progress=self.stdout.write)
            else:
                warming.warm_all(progress=self.stdout.write, max_users=max_users)
        except ApiError as exc:  # an unknown or inactive user
            raise CommandError(f"{exc.message}: nothing warmed") from None
        except DatabaseError as exc:
            raise CommandError(f"the database is unreachable: {exc}".strip()) from None
        self.stdout.write(f"Done in {time.perf_counter() - started:.2f}s")
