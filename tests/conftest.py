"""Shared fixtures.  Server fixtures live in tests/fixtures/ and are registered here."""
import pytest

pytest_plugins = [
    "tests.fixtures.servers",
    "tests.fixtures.sentry_server",
    "tests.fixtures.smtp",
    "tests.fixtures.monitoring",
    "tests.fixtures.dashboards",
    "tests.fixtures.backfill",
]


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix):
    """pytest-django's hook before the test database is created: with no PostgreSQL answering where the
    settings point, the session starts a throwaway one (make test on a machine without a server)."""
    from django.conf import settings

    from tests.fixtures import postgres

    db = settings.DATABASES["default"]
    if not postgres.needs_throwaway(db):
        yield
        return
    server = postgres.point_django_at_throwaway(db)
    yield
    server.stop()
