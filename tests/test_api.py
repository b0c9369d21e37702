"""The JSON API: shapes, filters, caching with invalidation, enrolment through Celery."""
from __future__ import annotations

import pytest
from django.core import mail

from courses import cache as course_cache
from courses.models import Course, Enrollment
from forum.models import Topic
from tests import factories as f

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fresh_cache_namespace():
    course_cache.invalidate_all()


def test_course_list_filters_search_ordering_and_pagination(client):
    f.course(title="Django for pros", category="web", level="advanced", rating=4.9)
    f.course(title="pandas basics", category="data-science", level="beginner", rating=3.1)
    f.course(title="Hidden draft", published=False)

    body = client.get("/api/v1/courses/").json()
    assert body["total"] == 2 and body["pages"] == 1 and len(body["results"]) == 2

    assert [c["title"] for c in client.get("/api/v1/courses/?category=web").json()["results"]] == ["Django for pros"]
    assert [c["title"] for c in client.get("/api/v1/courses/?level=beginner").json()["results"]] == ["pandas basics"]
    assert [c["title"] for c in client.get("/api/v1/courses/?q=PANDAS").json()["results"]] == ["pandas basics"]
    assert [c["rating"] for c in client.get("/api/v1/courses/?ordering=-rating").json()["results"]] == [4.9, 3.1]
    page2 = client.get("/api/v1/courses/?page=2&page_size=1").json()
    assert page2["page"] == 2 and len(page2["results"]) == 1 and page2["pages"] == 2


def test_course_detail_has_lessons_enrolment_count_and_rating(client):
    c = f.course(lessons=4, rating=4.25)
    f.enrollment(f.user(), c)
    body = client.get(f"/api/v1/courses/{c.slug}/").json()
    assert body["slug"] == c.slug and body["rating"] == 4.25
    assert body["lesson_count"] == 4 and [lesson["order"] for lesson in body["lessons"]] == [1, 2, 3, 4]
    assert body["enrollment_count"] == 1


def test_unpublished_course_is_404_json(client):
    c = f.course(published=False)
    resp = client.get(f"/api/v1/courses/{c.slug}/")
    assert resp.status_code == 404 and resp["Content-Type"] == "application/json"


def test_profile_and_me(client):
    u = f.user()
    c = f.course()
    f.enrollment(u, c, progress=50)
    body = client.get(f"/api/v1/users/{u.pk}/profile/").json()
    assert body["username"] == u.username and "enrollments" not in body  # private unless opted in (test_profile_privacy)
    client.force_login(u)
    body = client.get(f"/api/v1/users/{u.pk}/profile/").json()
    assert body["enrollments"][0]["course"]["slug"] == c.slug and body["progress"]["average_progress"] == 50.0
    assert "email" not in str(body)
    client.logout()

    assert client.get("/api/v1/me/").status_code == 401
    me = client.get("/api/v1/me/", HTTP_AUTHORIZATION=f"Token {f.token_for(u)}").json()
    assert me["id"] == u.pk
    client.force_login(u)
    assert client.get("/api/v1/me/").json()["id"] == u.pk


def test_forum_topics_reply_count_last_post_and_category_filter(client):
    t = f.topic(posts=3)
    other = f.topic(posts=1)
    body = client.get("/api/v1/forum/topics/").json()
    by_id = {row["id"]: row for row in body["results"]}
    assert by_id[t.pk]["reply_count"] == 2 and by_id[t.pk]["last_post"]["excerpt"] == "post 2"
    assert by_id[other.pk]["reply_count"] == 0
    filtered = client.get(f"/api/v1/forum/topics/?category={t.category.slug}").json()
    assert [row["id"] for row in filtered["results"]] == [t.pk]


def test_forum_names_authors_by_id_so_a_client_can_open_their_profile(client):
    writer, replier = f.user(username="topic-writer"), f.user(username="replier")
    t = f.topic(author=writer, posts=1)
    resp = client.post(f"/api/v1/forum/topics/{t.pk}/posts/", data={"body": "a reply"},
                       content_type="application/json", HTTP_AUTHORIZATION=f"Token {f.token_for(replier)}")
    assert resp.json()["author"] == {"id": replier.pk, "username": "replier"}
    row = next(r for r in client.get("/api/v1/forum/topics/").json()["results"] if r["id"] == t.pk)
    assert row["author"] == {"id": writer.pk, "username": "topic-writer"}
    assert row["last_post"]["author"] == {"id": replier.pk, "username": "replier"}
    for who in (row["author"], row["last_post"]["author"]):
        profile = client.get(f"/api/v1/users/{who['id']}/profile/")
        assert profile.status_code == 200 and profile.json()["username"] == who["username"]


def test_forum_post_updates_topic(client):
    t = f.topic(posts=1)
    u = f.user()
    resp = client.post(f"/api/v1/forum/topics/{t.pk}/posts/", data={"body": "hello"},
                       content_type="application/json", HTTP_AUTHORIZATION=f"Token {f.token_for(u)}")
    assert resp.status_code == 201
    t = Topic.objects.get(pk=t.pk)
    assert t.reply_count == 1 and t.last_post_id == resp.json()["id"]


def test_a_write_is_visible_on_the_next_read(client):
    """Course list, detail and profile are cached; every write that shows in them invalidates them."""
    u = f.user()
    c = f.course(title="Old title")
    client.force_login(u)  # the owner: enrolments are private
    # Prime all three caches.
    assert client.get("/api/v1/courses/").json()["results"][0]["title"] == "Old title"
    assert client.get(f"/api/v1/courses/{c.slug}/").json()["enrollment_count"] == 0
    assert client.get(f"/api/v1/users/{u.pk}/profile/").json()["enrollments"] == []
    # Cached: a second read does no query.
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as ctx:
        client.get(f"/api/v1/courses/{c.slug}/")
    assert len(ctx.captured_queries) == 0

    c.title = "New title"
    c.save()
    assert client.get("/api/v1/courses/").json()["results"][0]["title"] == "New title"

    resp = client.post(f"/api/v1/courses/{c.slug}/enroll/", HTTP_AUTHORIZATION=f"Token {f.token_for(u)}")
    assert resp.status_code == 201
    assert client.get(f"/api/v1/courses/{c.slug}/").json()["enrollment_count"] == 1
    profile = client.get(f"/api/v1/users/{u.pk}/profile/").json()
    assert [e["course"]["title"] for e in profile["enrollments"]] == ["New title"]


def test_enroll_runs_tasks_and_sends_confirmation(client, django_capture_on_commit_callbacks):
    u = f.user(email="learner@example.com")
    c = f.course(title="Celery course")
    with django_capture_on_commit_callbacks(execute=True):
        resp = client.post(f"/api/v1/courses/{c.slug}/enroll/", HTTP_AUTHORIZATION=f"Token {f.token_for(u)}")
    assert resp.status_code == 201 and resp.json()["created"] is True
    assert [m.to for m in mail.outbox] == [["learner@example.com"]]
    assert "Celery course" in mail.outbox[0].subject
    assert Enrollment.objects.get(user=u, course=c).confirmation_sent_at is not None
    assert Course.objects.get(pk=c.pk).enrollment_count == 1  # recompute_course_stats ran
    # Enrolling again is idempotent: 200, no second e-mail.
    with django_capture_on_commit_callbacks(execute=True):
        again = client.post(f"/api/v1/courses/{c.slug}/enroll/", HTTP_AUTHORIZATION=f"Token {f.token_for(u)}")
    assert again.status_code == 200 and len(mail.outbox) == 1


def test_enroll_requires_authentication_and_csrf_for_sessions(client):
    c = f.course()
    assert client.post(f"/api/v1/courses/{c.slug}/enroll/").status_code == 401
    from django.test import Client

    csrf_client = Client(enforce_csrf_checks=True)
    csrf_client.force_login(f.user())
    assert csrf_client.post(f"/api/v1/courses/{c.slug}/enroll/").status_code == 403


def test_token_endpoint(client):
    f.user(username="alice", password="s3cret-pass")
    resp = client.post("/api/v1/auth/token/", data={"username": "alice", "password": "s3cret-pass"},
                       content_type="application/json")
    assert resp.status_code == 200 and len(resp.json()["token"]) == 43  # 32 random bytes, URL-safe base64
    bad = client.post("/api/v1/auth/token/", data={"username": "alice", "password": "nope"},
                      content_type="application/json")
    assert bad.status_code == 401


def test_periodic_task_recomputes_all_statistics():
    from courses.tasks import recompute_all_course_stats

    c = f.course()
    for _ in range(3):
        f.enrollment(f.user(), c)
    Course.objects.filter(pk=c.pk).update(enrollment_count=0)
    assert recompute_all_course_stats.delay().get() >= 1
    assert Course.objects.get(pk=c.pk).enrollment_count == 3


def test_beat_schedule_names_a_registered_task():
    from django.conf import settings

    from config.celery import app

    app.loader.import_default_modules()
    for entry in settings.CELERY_BEAT_SCHEDULE.values():
        assert entry["task"] in app.tasks
