"""Deterministic, idempotent demo data at three sizes.

Every object has a stable natural key (username, slug, order) generated from its index with a
per-index random generator, so the same size always yields the same rows and a second run adds
nothing.  Rows are written with bulk_create(ignore_conflicts=True) in batches.
"""
from __future__ import annotations

import random
import sys
import time
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.core.management.base import BaseCommand
from django.db import transaction
from django.db.models import Count, OuterRef, Subquery
from django.utils import timezone

from accounts.models import Profile
from config import env
from courses import cache as course_cache
from courses.models import Course, Enrollment, Lesson
from forum.models import Category as ForumCategory
from forum.models import Post, Topic

SIZES = {
    #          courses  users  enrolments/user  topics  posts/topic
    "small": dict(courses=40, users=200, enrolments=3, topics=120, posts=5),
    "medium": dict(courses=400, users=3_000, enrolments=4, topics=2_000, posts=8),
    "large": dict(courses=3_000, users=30_000, enrolments=5, topics=15_000, posts=8),
}
BATCH = 2_000
EPOCH = timezone.datetime(2025, 1, 1, tzinfo=timezone.get_current_timezone())

SUBJECTS = ["Python", "Django", "Flask", "FastAPI", "pandas", "NumPy", "asyncio", "pytest", "Docker",
            "SQL", "Celery", "Redis", "typing", "decorators", "generators", "algorithms", "data classes",
            "regular expressions", "packaging", "profiling", "CLI tools", "web scraping", "machine learning"]
FORMS = ["Introduction to", "Mastering", "Practical", "Hands-on", "Advanced", "The essentials of",
         "Test-driven", "Building with", "Debugging", "Fast"]
FORUM_CATEGORIES = [("General", "general"), ("Help", "help"), ("Show and tell", "show-and-tell"),
                    ("Django", "django"), ("Data science", "data-science"), ("Career", "career"),
                    ("Testing", "testing"), ("Announcements", "announcements")]
WORDS = ["python", "function", "class", "module", "import", "error", "traceback", "list", "dict", "loop",
         "test", "fixture", "query", "cache", "request", "response", "model", "view", "template", "async",
         "await", "thread", "process", "memory", "speed", "index"]


def _rng(*parts) -> random.Random:
    return random.Random("/".join(map(str, parts)))


def _sentence(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n)).capitalize() + "."


class Command(BaseCommand):
    help = "Seed deterministic demo data (courses, lessons, users, enrolments, forum). Safe to run again."

    def add_arguments(self, parser):
        parser.add_argument("--size", choices=sorted(SIZES), default="small")

    def handle(self, *args, size: str, **options):
        spec = SIZES[size]
        self.started = time.monotonic()
        self.step(f"seeding size={size} into {settings.DATABASES['default']['ENGINE'].rsplit('.', 1)[-1]}: "
                  + ", ".join(f"{k}={v}" for k, v in spec.items()))
        with transaction.atomic():
            users = self.seed_users(spec["users"])
            courses = self.seed_courses(spec["courses"])
            self.seed_lessons(courses)
            self.seed_enrolments(users, courses, spec["enrolments"])
            self.seed_forum(users, spec["topics"], spec["posts"])
        self.step("recomputing course statistics")
        from courses.services import recompute_all_course_stats

        recompute_all_course_stats()
        course_cache.invalidate_all()
        self.step(f"done in {time.monotonic() - self.started:.1f}s: "
                  f"{get_user_model().objects.count()} users, {Course.objects.count()} courses, "
                  f"{Lesson.objects.count()} lessons, {Enrollment.objects.count()} enrolments, "
                  f"{Topic.objects.count()} topics, {Post.objects.count()} posts")

    # -- progress ---------------------------------------------------------------------------
    def step(self, message: str) -> None:
        self.stdout.write(f"[{time.monotonic() - self.started:6.1f}s] {message}")
        sys.stdout.flush()

    def bulk(self, model, objs, label: str) -> None:
        total = len(objs)
        live = self.stdout.isatty()  # a counter that rewrites itself only makes sense on a terminal
        for start in range(0, total, BATCH):
            model.objects.bulk_create(objs[start:start + BATCH], ignore_conflicts=True, batch_size=BATCH)
            if live:
                self.stdout.write(f"\r  {label}: {min(start + BATCH, total)}/{total}", ending="")
        self.stdout.write(f"\r  {label}: {total}/{total}" if live else f"  {label}: {total}")

    # -- users --------------------------------------------------------------------------------
    def seed_users(self, n: int) -> list[int]:
        self.step(f"users ({n})")
        User = get_user_model()
        # One hash for every seeded user: hashing tens of thousands of passwords would take minutes.
        password = make_password(env.get("SEED_USER_PASSWORD", "learn-python-123"))
        names = [f"student{i:05d}" for i in range(1, n + 1)]
        objs = []
        for i, username in enumerate(names, 1):
            rng = _rng("user", i)
            objs.append(User(username=username, email=f"{username}@example.com", password=password,
                             first_name=rng.choice(["Ada", "Guido", "Grace", "Alan", "Linus", "Barbara"]),
                             date_joined=EPOCH + timedelta(days=rng.randint(0, 600))))
        instructors = [f"instructor{i:03d}" for i in range(1, 21)]
        for username in instructors:
            objs.append(User(username=username, email=f"{username}@example.com", password=password,
                             date_joined=EPOCH))
        self.bulk(User, objs, "users")
        ids = dict(User.objects.filter(username__in=names + instructors).values_list("username", "pk"))
        # Profiles (the post_save signal does not fire for bulk_create).
        profiles = []
        for i, username in enumerate(names, 1):
            rng = _rng("profile", i)
            profiles.append(Profile(
                user_id=ids[username], bio=_sentence(rng, 12),
                avatar_url=f"https://avatars.example.com/{username}.png",
                lessons_completed=rng.randint(0, 200), courses_completed=rng.randint(0, 10),
                minutes_learned=rng.randint(0, 20_000), streak_days=rng.randint(0, 60)))
        for username in instructors:
            profiles.append(Profile(user_id=ids[username], bio="Instructor at Python Learning Studio."))
        self.bulk(Profile, profiles, "profiles")
        self.instructor_ids = [ids[u] for u in instructors]
        return [ids[u] for u in names]

    # -- courses ------------------------------------------------------------------------------
    def seed_courses(self, n: int) -> list[int]:
        self.step(f"courses ({n})")
        categories, levels = Course.Category.values, Course.Level.values
        objs = []
        for i in range(1, n + 1):
            rng = _rng("course", i)
            subject = rng.choice(SUBJECTS)
            title = f"{rng.choice(FORMS)} {subject} {i}"
            objs.append(Course(
                title=title, slug=f"course-{i:05d}-{subject.lower().replace(' ', '-')}",
                category=rng.choice(categories), level=rng.choice(levels),
                description=f"Learn {subject} step by step. " + _sentence(rng, 30),
                published=rng.random() < 0.9, rating=round(rng.uniform(3.0, 5.0), 2),
                instructor_id=rng.choice(self.instructor_ids)))
        self.bulk(Course, objs, "courses")
        slugs = [c.slug for c in objs]
        by_slug = dict(Course.objects.filter(slug__in=slugs).values_list("slug", "pk"))
        return [by_slug[s] for s in slugs]

    def seed_lessons(self, course_ids: list[int]) -> None:
        self.step("lessons")
        objs = []
        for index, course_id in enumerate(course_ids, 1):
            rng = _rng("lessons", index)  # by position, not database id: ids differ between databases
            for order in range(1, rng.randint(6, 16) + 1):
                objs.append(Lesson(course_id=course_id, order=order, slug=f"lesson-{order}",
                                   title=f"Lesson {order}: {_sentence(rng, 4)[:-1]}",
                                   duration_minutes=rng.randint(5, 45), content=_sentence(rng, 60)))
        self.bulk(Lesson, objs, "lessons")

    def seed_enrolments(self, user_ids: list[int], course_ids: list[int], per_user: int) -> None:
        self.step("enrolments")
        objs, now = [], timezone.now()
        for index, user_id in enumerate(user_ids, 1):
            rng = _rng("enrol", index)
            for course_id in rng.sample(course_ids, min(per_user, len(course_ids))):
                progress = rng.choice([0, 10, 25, 50, 75, 100, 100])
                objs.append(Enrollment(user_id=user_id, course_id=course_id, progress=progress,
                                       completed_at=now - timedelta(days=rng.randint(0, 90)) if progress == 100 else None))
        self.bulk(Enrollment, objs, "enrolments")

    # -- forum --------------------------------------------------------------------------------
    def seed_forum(self, user_ids: list[int], n_topics: int, posts_per_topic: int) -> None:
        self.step(f"forum ({n_topics} topics)")
        self.bulk(ForumCategory, [ForumCategory(name=name, slug=slug, description=f"{name} discussions")
                                  for name, slug in FORUM_CATEGORIES], "forum categories")
        cat_ids = dict(ForumCategory.objects.values_list("slug", "pk"))
        topics = []
        for i in range(1, n_topics + 1):
            rng = _rng("topic", i)
            topics.append(Topic(category_id=cat_ids[rng.choice(FORUM_CATEGORIES)[1]],
                                author_id=rng.choice(user_ids), title=_sentence(rng, 7)[:-1],
                                slug=f"topic-{i:06d}", last_activity_at=EPOCH + timedelta(hours=i)))
        self.bulk(Topic, topics, "topics")
        topic_ids = dict(Topic.objects.filter(slug__in=[t.slug for t in topics]).values_list("slug", "pk"))
        if Post.objects.filter(topic_id__in=list(topic_ids.values())[:1]).exists():
            self.step("forum posts already present; skipping")
            return
        posts = []
        for i in range(1, n_topics + 1):
            rng = _rng("posts", i)
            topic_id = topic_ids[f"topic-{i:06d}"]
            start = EPOCH + timedelta(hours=i)
            for j in range(rng.randint(1, posts_per_topic * 2 - 1)):
                posts.append(Post(topic_id=topic_id, author_id=rng.choice(user_ids), body=_sentence(rng, 40),
                                  created_at=start + timedelta(minutes=17 * j + rng.randint(0, 10))))
        self.bulk(Post, posts, "posts")
        self.step("topic reply counts and last posts")
        latest = Post.objects.filter(topic=OuterRef("pk")).order_by("-created_at", "-pk")
        Topic.objects.filter(pk__in=topic_ids.values()).update(
            last_post=Subquery(latest.values("pk")[:1]),
            last_activity_at=Subquery(latest.values("created_at")[:1]),
            reply_count=Subquery(
                Post.objects.filter(topic=OuterRef("pk")).values("topic").annotate(n=Count("pk") - 1).values("n")[:1]),
        )
