"""python manage.py warm_cache: fill the cache with what the API reads most (core/warming.py).

    python manage.py warm_cache                  # course lists, course details, active users' profiles
    python manage.py warm_cache --user-id 123    # one user's profile
    python manage.py warm_cache --max-users 200  # fewer profiles (default settings.WARM_CACHE_MAX_USERS)
"""
from __future__ import annotations

import argparse
import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError

from core import warming
from core.api import ApiError


def non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number, not {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, not {value}")
    return value


def user_id(text: str) -> int:
    value = non_negative_int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a user id (1 or more), not {value}")
    return value


class Command(BaseCommand):
    help = ("Warm the cache: first pages of the course list per category and level, every published "
            "course, the profiles of active users; or one user's profile (--user-id).")

    def add_arguments(self, parser):
        parser.add_argument("--user-id", type=user_id, metavar="N", help="warm only this user's profile")
        parser.add_argument("--max-users", type=non_negative_int, metavar="N",
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
