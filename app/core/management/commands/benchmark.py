"""python manage.py benchmark: time each endpoint of the target table in-process and grade it.

Requests go through Django's whole stack (middleware, URL resolution, the view, the configured
database and cache) with the test Client, in this process: no network, no gunicorn.  Each endpoint
is requested ``--iterations`` times; avg, min, max and P95 (nearest rank) are graded with the table
in the spec through core.grading, the same code that grades the Locust runs.

    python manage.py benchmark                          # 20 iterations per endpoint
    python manage.py benchmark --iterations 50
    python manage.py benchmark --warm-cache             # one untimed request per endpoint first
    python manage.py benchmark --clear-cache --warm-cache
    python manage.py benchmark --verbose                # every request, with its status and queries
    python manage.py benchmark --output var/baseline.json
    python manage.py benchmark --compare var/baseline.json
"""
from __future__ import annotations

import json
import platform
import time
from datetime import UTC, datetime
from pathlib import Path

from django.conf import settings
from django.core.cache import cache
from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from django.test import Client
from django.urls import NoReverseMatch, reverse

import monitoring_spec as spec
from core import grading
from core.cli import int_at_least

SEED_HINT = "run `python manage.py seed_data --size small` (or `make seed`) first"


def sample_arguments() -> dict[str, dict]:
    """URL keyword arguments for each view, taken from the data in the database."""
    from courses.models import Course, Enrollment
    from forum.models import Topic

    slug = Course.objects.filter(published=True).order_by("pk").values_list("slug", flat=True).first()
    # A learner with enrolments: the profile payload then has its usual size.
    user_id = (Enrollment.objects.filter(user__is_active=True).order_by("user_id")
               .values_list("user_id", flat=True).first())
    missing = [what for what, present in (("published courses", slug), ("enrolled users", user_id),
                                          ("forum topics", Topic.objects.exists())) if not present]
    if missing:
        raise CommandError(f"no seeded data in database '{connection.settings_dict['NAME']}' "
                           f"(missing: {', '.join(missing)}): {SEED_HINT}")
    return {
        "courses:course-list": {},
        "courses:course-detail": {"slug": slug},
        "accounts:user-profile": {"user_id": user_id},
        "forum:topic-list": {},
    }


class QueryCounter:
    def __init__(self):
        self.count = 0

    def __call__(self, execute, sql, params, many, context):
        self.count += 1
        return execute(sql, params, many, context)


class Command(BaseCommand):
    help = ("Time every endpoint of the target table in-process (Django test Client, configured database "
            "and cache) and grade avg/min/max/P95 against the spec.")

    def add_arguments(self, parser):
        parser.add_argument("--iterations", type=int_at_least(1), default=20, metavar="N",
                            help="timed requests per endpoint (default 20)")
        parser.add_argument("--warm-cache", action="store_true",
                            help="request every endpoint once, untimed, before measuring")
        parser.add_argument("--clear-cache", action="store_true",
                            help="empty the app's cache (this cache's keys only) before warming and measuring")
        parser.add_argument("--verbose", action="store_true",
                            help="print every timed request (status, queries, path); same as -v 2")
        parser.add_argument("--output", metavar="FILE", help="write the results as a JSON baseline")
        parser.add_argument("--compare", metavar="FILE", help="show the change against a baseline from --output")

    def handle(self, *args, iterations: int, warm_cache: bool, clear_cache: bool, output: str | None,
               compare: str | None, verbose: bool, verbosity: int, **options):
        verbose = verbose or verbosity >= 2
        before = self.load_baseline(compare) if compare else None
        endpoints = self.endpoints()
        client = Client(HTTP_HOST=self.host(), SERVER_NAME=self.host())
        secure = bool(getattr(settings, "SECURE_SSL_REDIRECT", False))

        self.stdout.write(f"Benchmark: {iterations} iterations per endpoint, database "
                          f"{connection.vendor} '{connection.settings_dict['NAME']}', cache "
                          f"{settings.CACHES['default']['BACKEND'].rsplit('.', 1)[-1]}"
                          f"{', cleared' if clear_cache else ''}{', warmed' if warm_cache else ''}")
        if clear_cache:
            self.clear_cache()
        if warm_cache:
            for _target, path in endpoints:
                client.get(path, secure=secure)

        rows = []
        for target, path in endpoints:
            samples, failures = [], 0
            for i in range(1, iterations + 1):
                counter = QueryCounter()
                with connection.execute_wrapper(counter):
                    started = time.perf_counter()
                    response = client.get(path, secure=secure)
                    elapsed_ms = (time.perf_counter() - started) * 1000
                ok = response.status_code == 200
                if ok:
                    samples.append(elapsed_ms)
                else:
                    failures += 1
                if verbose:
                    self.stdout.write(f"  {target.view:<24} #{i:<3} {elapsed_ms:8.2f} ms  HTTP {response.status_code}"
                                      f"  {counter.count} queries  {path}")
            rows.append(grading.EndpointResult.from_samples(target.view, samples, failures=failures, path=path))

        self.stdout.write(grading.render_benchmark_table(rows, title="\nResults (ms; grades from the spec)"))
        failed = [r for r in rows if r.failures]

        data = grading.baseline_dict(
            rows, created_at=datetime.now(UTC).isoformat(timespec="seconds"), iterations=iterations,
            warm_cache=warm_cache, clear_cache=clear_cache, database=connection.vendor,
            cache=settings.CACHES["default"]["BACKEND"], host=platform.node(), python=platform.python_version())
        if output:
            path = Path(output)
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(json.dumps(data, indent=2) + "\n")
            except OSError as exc:
                raise CommandError(f"cannot write the baseline to {output}: {exc.strerror or exc}") from None
            self.stdout.write(f"\nBaseline written to {output}")
        if before is not None:
            self.stdout.write("\n" + grading.compare_baselines(before, data))
        if failed:
            raise CommandError("some requests did not answer 200: " + ", ".join(
                f"{r.name} ({r.failures} of {r.requests})" for r in failed))

    # ----------------------------------------------------------------------------------------
    def endpoints(self) -> list[tuple[spec.EndpointTarget, str]]:
        arguments = sample_arguments()
        out = []
        for target in spec.TARGETS:
            kwargs = arguments.get(target.view)
            if kwargs is None:
                self.stderr.write(f"skipping {target.name}: no sample arguments for view {target.view}")
                continue
            try:
                out.append((target, reverse(target.view, kwargs=kwargs)))
            except NoReverseMatch:
                self.stderr.write(f"skipping {target.name}: view {target.view} is not in the URLconf")
        if not out:
            raise CommandError("no endpoint of spec.TARGETS could be benchmarked")
        return out

    @staticmethod
    def host() -> str:
        for host in settings.ALLOWED_HOSTS:
            if host and host != "*" and not host.startswith("."):
                return host
        return "localhost"

    def clear_cache(self) -> None:
        # Only this app's keys (its KEY_PREFIX): the Redis database may be shared.
        if hasattr(cache, "delete_pattern"):
            cache.delete_pattern("*")
        else:
            cache.clear()

    @staticmethod
    def load_baseline(path: str) -> dict:
        try:
            raw = Path(path).read_bytes()
        except FileNotFoundError:
            raise CommandError(f"--compare: {path} does not exist (write one with --output)") from None
        except OSError as exc:
            raise CommandError(f"--compare: cannot read {path}: {exc.strerror or exc}") from None
        try:
            return grading.validate_baseline(json.loads(raw))
        except (ValueError, grading.BaselineError) as exc:
            raise CommandError(f"--compare: {path} is not a benchmark baseline: {exc}") from None
