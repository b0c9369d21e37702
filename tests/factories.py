"""Plain builders for test data (no factory library: a few lines each)."""
from __future__ import annotations

import itertools

from django.contrib.auth import get_user_model
from django.utils import timezone

from accounts import tokens
from courses.models import Course, Enrollment, Lesson
from forum.models import Category, Post, Topic

_seq = itertools.count(1)


def user(username: str | None = None, **kw):
    n = next(_seq)
    return get_user_model().objects.create_user(
        username=username or f"user{n}", email=kw.pop("email", f"user{n}@example.com"),
        password=kw.pop("password", "pw-123456"), **kw)


def token_for(u) -> str:
    """A new API token's secret (the table keeps its digest only)."""
    return tokens.issue(u)[1]


def course(instructor=None, lessons: int = 3, **kw) -> Course:
    n = next(_seq)
    c = Course.objects.create(
        title=kw.pop("title", f"Course {n}"), slug=kw.pop("slug", f"course-{n}"),
        category=kw.pop("category", Course.Category.WEB), level=kw.pop("level", Course.Level.BEGINNER),
        description=kw.pop("description", "A course"), published=kw.pop("published", True),
        rating=kw.pop("rating", 4.5), instructor=instructor or user(), **kw)
    Lesson.objects.bulk_create(
        [Lesson(course=c, order=i, slug=f"l{i}", title=f"Lesson {i}") for i in range(1, lessons + 1)])
    return c


def enrollment(u, c, progress=0) -> Enrollment:
    return Enrollment.objects.create(user=u, course=c, progress=progress)


def topic(category=None, author=None, posts: int = 2) -> Topic:
    n = next(_seq)
    category = category or Category.objects.create(name=f"Cat {n}", slug=f"cat-{n}")
    author = author or user()
    t = Topic.objects.create(category=category, author=author, title=f"Topic {n}", slug=f"topic-{n}",
                             last_activity_at=timezone.now())
    last = None
    for i in range(posts):
        last = Post.objects.create(topic=t, author=author, body=f"post {i}", created_at=timezone.now())
    if last:
        Topic.objects.filter(pk=t.pk).update(reply_count=posts - 1, last_post=last)
    return t
