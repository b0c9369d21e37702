"""Celery tasks against a real SMTP server: delivery, retries with backoff, giving up."""
from __future__ import annotations

import pytest

from courses import tasks
from courses.models import Enrollment
from tests import factories as f

pytestmark = pytest.mark.django_db


@pytest.fixture
def smtp_settings(settings, smtp_server):
    def configure(fail_first: int = 0):
        server = smtp_server(fail_first)
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", server.port
        return server

    return configure


def test_confirmation_is_delivered_over_smtp(smtp_settings):
    server = smtp_settings()
    e = f.enrollment(f.user(email="ada@example.com"), f.course(title="Generators"))
    assert tasks.send_enrollment_confirmation.delay(e.pk).get() is True
    assert [m["to"] for m in server.messages] == [["ada@example.com"]]
    assert "Generators" in server.messages[0]["data"]
    # Sent once: a duplicate delivery of the task sends nothing more.
    assert tasks.send_enrollment_confirmation.delay(e.pk).get() is False
    assert len(server.messages) == 1


def test_transient_smtp_failures_are_retried_with_backoff(smtp_settings):
    server = smtp_settings(fail_first=2)
    e = f.enrollment(f.user(email="grace@example.com"), f.course())
    result = tasks.send_enrollment_confirmation.apply(args=(e.pk,))
    assert result.successful() and result.get() is True
    assert server.handler.attempts == 3 and len(server.messages) == 1
    assert Enrollment.objects.get(pk=e.pk).confirmation_sent_at is not None
    task = tasks.send_enrollment_confirmation
    assert task.retry_backoff and task.max_retries >= 3 and task.autoretry_for


def test_gives_up_after_max_retries(smtp_settings):
    server = smtp_settings(fail_first=100)
    e = f.enrollment(f.user(email="alan@example.com"), f.course())
    result = tasks.send_enrollment_confirmation.apply(args=(e.pk,))
    assert result.failed()
    assert server.handler.attempts == tasks.send_enrollment_confirmation.max_retries + 1
    assert Enrollment.objects.get(pk=e.pk).confirmation_sent_at is None
