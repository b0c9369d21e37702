"""seed_data: deterministic (same rows every time), idempotent (a second run adds nothing), with progress."""
from __future__ import annotations

import io

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError

from courses.models import Course, Enrollment, Lesson
from forum.models import Post, Topic

pytestmark = pytest.mark.django_db


def fingerprint() -> dict:
    return {
        "users": get_user_model().objects.count(),
        "courses": list(Course.objects.order_by("slug").values_list("slug", "title", "category", "level", "rating",
                                                                    "enrollment_count")),
        "lessons": Lesson.objects.count(),
        "enrolments": sorted(Enrollment.objects.values_list("user__username", "course__slug", "progress")),
        "topics": list(Topic.objects.order_by("slug").values_list("slug", "reply_count", "last_post__body")),
        "posts": Post.objects.count(),
    }


def seed(size: str = "small") -> str:
    out = io.StringIO()
    call_command("seed_data", "--size", size, stdout=out)
    return out.getvalue()


def test_seed_is_deterministic_idempotent_and_reports_progress():
    output = seed()
    first = fingerprint()
    assert first["users"] > 200 and len(first["courses"]) == 40 and first["posts"] > 100
    assert "users" in output and "posts" in output and "done in" in output

    seed()  # again: nothing added, nothing changed
    assert fingerprint() == first

    # From scratch: the same rows.
    for model in (Post, Topic, Enrollment, Lesson, Course):
        model.objects.all().delete()
    get_user_model().objects.all().delete()
    seed()
    assert fingerprint() == first


def test_topic_counters_match_their_posts():
    seed()
    for topic in Topic.objects.all()[:50]:
        posts = list(topic.posts.order_by("created_at", "pk"))
        assert topic.reply_count == len(posts) - 1 and topic.last_post_id == posts[-1].pk


def test_unknown_size_is_a_usage_error():
    with pytest.raises(CommandError, match="invalid choice"):
        call_command("seed_data", "--size", "huge")
