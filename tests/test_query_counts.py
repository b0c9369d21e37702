"""No N+1: each endpoint's query count is the same with little data and with more data."""
from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from courses import cache as course_cache
from tests import factories as f

pytestmark = pytest.mark.django_db


def count_queries(client, url: str, **headers) -> int:
    course_cache.invalidate_all()  # measure the uncached path
    with CaptureQueriesContext(connection) as ctx:
        resp = client.get(url, **headers)
    assert resp.status_code == 200, resp.content
    return len(ctx.captured_queries)


def grow(student, n: int) -> None:
    instructor = f.user()
    for _ in range(n):
        c = f.course(instructor=instructor, lessons=5)
        f.enrollment(student, c, progress=30)
        f.enrollment(f.user(), c)
        f.topic(posts=3)


def test_query_count_does_not_grow_with_data(client):
    student = f.user()
    token = f.token_for(student)
    grow(student, 2)
    slug = f.course(lessons=2).slug
    urls = {
        "course list": "/api/v1/courses/",
        "course detail": f"/api/v1/courses/{slug}/",
        "user profile": f"/api/v1/users/{student.pk}/profile/",
        "me": "/api/v1/me/",
        "forum topics": "/api/v1/forum/topics/",
    }
    auth = {"HTTP_AUTHORIZATION": f"Token {token}"}
    small = {name: count_queries(client, url, **auth) for name, url in urls.items()}

    grow(student, 12)
    from courses.models import Course, Lesson

    Lesson.objects.bulk_create([Lesson(course=Course.objects.get(slug=slug), order=i, slug=f"x{i}", title="x")
                                for i in range(10, 40)])
    large = {name: count_queries(client, url, **auth) for name, url in urls.items()}

    print("\nqueries per endpoint (uncached):", small)
    assert large == small
    # And the counts are small in absolute terms.
    assert all(n <= 4 for n in small.values()), small
