"""Shared fixtures.  Server fixtures live in tests/fixtures/ and are registered here."""
pytest_plugins = [
    "tests.fixtures.servers",
    "tests.fixtures.sentry_server",
    "tests.fixtures.smtp",
    "tests.fixtures.monitoring",
]
