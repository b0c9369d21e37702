"""Personas that load Python Learning Studio the way people use it.

Every request is named after the Django view label that serves it ("courses:course-list", ...), so
Locust's rows line up with the ``view`` label of the app's Prometheus series and with the target
table in monitoring_spec.

    locust -f loadtests                                  # web UI on :8089
    locust -f loadtests --headless -u 20 -r 10 -t 60s -H http://127.0.0.1:8000
    LOAD_SHAPE=step locust -f loadtests --headless -H http://127.0.0.1:8000   # capacity at target
    make loadtest USERS=20 DURATION=60s

Mix (weights 5:3:2): anonymous visitors browse the catalogue, students sign in and follow their
courses, forum readers page through topics and now and then reply.  Think times are seconds, as a
person's are; ``--think-scale`` multiplies them (0.1 for a quick smoke run).
"""
from __future__ import annotations

import os
import random
from itertools import count
from typing import ClassVar

from locust import FastHttpUser, task

from loadtests import _harness  # noqa: F401  (registers the command-line options and event hooks)

if os.environ.get("LOAD_SHAPE", "").lower() == "step":
    from loadtests._shapes import StepLoadShape  # noqa: F401  (a shape class here selects it)

PASSWORD = os.environ.get("SEED_USER_PASSWORD", "learn-python-123")
MAX_POOL = 500  # remembered slugs / ids per process


class Seen:
    """What this load generator has seen in responses, shared by its users (one process)."""

    course_slugs: ClassVar[list[str]] = []
    course_pages: int = 1
    topic_ids: ClassVar[list[int]] = []
    topic_pages: int = 1
    user_ids: ClassVar[list[int]] = []

    @staticmethod
    def remember(pool: list, items) -> None:
        for item in items:
            if len(pool) >= MAX_POOL:
                pool[random.randrange(MAX_POOL)] = item
            elif item not in pool:
                pool.append(item)


_student_numbers = count(random.randrange(1_000_000))


def think(low: float, high: float):
    """Locust's ``between(low, high)``, multiplied by --think-scale."""

    def wait_time(user) -> float:
        options = user.environment.parsed_options
        scale = getattr(options, "think_scale", 1.0) if options is not None else 1.0
        return random.uniform(low, high) * scale

    return wait_time


class ApiUser(FastHttpUser):
    abstract = True
    token: str | None = None
    user_id: int | None = None

    @property
    def auth(self) -> dict:
        return {"Authorization": f"Token {self.token}"} if self.token else {}

    def get_json(self, path: str, name: str, authenticated: bool = False) -> dict | None:
        headers = self.auth if authenticated else None
        with self.client.get(path, name=name, headers=headers, catch_response=True) as resp:
            if resp.status_code != 200:
                return None  # 4xx/5xx are failures already; keep the stock message
            try:
                return resp.json()
            except ValueError:
                resp.failure("answer is not JSON")
                return None

    def log_in(self) -> None:
        """Sign in as one of the seeded students (student00001 .. student<--seed-users>)."""
        options = self.environment.parsed_options
        population = max(1, int(getattr(options, "seed_users", 200) if options is not None else 200))
        username = f"student{next(_student_numbers) % population + 1:05d}"
        with self.client.post("/api/v1/auth/token/", name="accounts:token", catch_response=True,
                              json={"username": username, "password": PASSWORD}) as resp:
            if resp.status_code != 200:
                return
            try:
                data = resp.json()
                self.token, self.user_id = data["token"], data["user_id"]
            except (ValueError, KeyError, TypeError):
                resp.failure("no token in the answer")
                return
        Seen.remember(Seen.user_ids, [self.user_id])

    def browse_courses(self, page: int | None = None, **filters) -> None:
        if page is None:  # most people stay on the first pages
            page = min(Seen.course_pages, random.choice([1, 1, 1, 1, 2, 2, 3, random.randint(1, 10)]))
        query = "&".join([f"page={page}", *(f"{k}={v}" for k, v in filters.items())])
        data = self.get_json(f"/api/v1/courses/?{query}", "courses:course-list")
        if data:
            if not filters:
                Seen.course_pages = max(1, int(data.get("pages", 1)))
            Seen.remember(Seen.course_slugs, [c["slug"] for c in data.get("results", [])])

    def read_course(self, slug: str | None = None) -> None:
        slug = slug or (random.choice(Seen.course_slugs) if Seen.course_slugs else None)
        if slug is None:
            return self.browse_courses(page=1)
        self.get_json(f"/api/v1/courses/{slug}/", "courses:course-detail")

    def browse_topics(self) -> None:
        page = min(Seen.topic_pages, random.choice([1, 1, 1, 1, 1, 2, 2, 3, random.randint(1, 20)]))
        data = self.get_json(f"/api/v1/forum/topics/?page={page}", "forum:topic-list")
        if data:
            Seen.topic_pages = max(1, int(data.get("pages", 1)))
            Seen.remember(Seen.topic_ids, [t["id"] for t in data.get("results", [])])


class AnonymousVisitor(ApiUser):
    """Someone without an account: the catalogue, a course page, now and then a public profile."""

    weight = 5
    wait_time = think(2, 8)

    def on_start(self) -> None:
        self.browse_courses(page=1)  # the landing page

    @task(5)
    def catalogue(self) -> None:
        if random.random() < 0.2 and Seen.course_slugs:  # a filter or a sort order now and then
            self.browse_courses(page=1, ordering=random.choice(["popular", "-rating", "newest", "title"]))
        else:
            self.browse_courses()

    @task(4)
    def course_page(self) -> None:
        self.read_course()

    @task(1)
    def public_profile(self) -> None:
        if not Seen.user_ids:  # ids become known when students sign in
            return self.browse_courses()
        self.get_json(f"/api/v1/users/{random.choice(Seen.user_ids)}/profile/", "accounts:user-profile")


class Student(ApiUser):
    """A signed-in learner: their dashboard (/me), their courses, the catalogue, now and then an enrolment."""

    weight = 3
    wait_time = think(3, 10)
    my_courses: list[str]

    def on_start(self) -> None:
        self.my_courses = []
        self.log_in()
        if self.token:
            self.dashboard()

    @task(4)
    def dashboard(self) -> None:
        if not self.token:
            return self.browse_courses()
        data = self.get_json("/api/v1/me/", "accounts:me", authenticated=True)
        if data:
            self.my_courses = [e["course"]["slug"] for e in data.get("enrollments", [])]

    @task(4)
    def continue_course(self) -> None:
        # Only courses the catalogue lists: an enrolment may be in a course unpublished since (a 404).
        listed = [slug for slug in self.my_courses if slug in Seen.course_slugs]
        self.read_course(random.choice(listed) if listed else None)

    @task(2)
    def catalogue(self) -> None:
        self.browse_courses()

    @task(1)
    def own_profile(self) -> None:
        if self.user_id is None:
            return self.browse_courses()
        self.get_json(f"/api/v1/users/{self.user_id}/profile/", "accounts:user-profile")

    @task(1)
    def enroll(self) -> None:
        if not self.token or not Seen.course_slugs:
            return self.browse_courses()
        slug = random.choice(Seen.course_slugs)
        with self.client.post(f"/api/v1/courses/{slug}/enroll/", name="courses:course-enroll", headers=self.auth,
                              catch_response=True) as resp:
            if resp.status_code in (200, 201):
                self.my_courses.append(slug)


class ForumReader(ApiUser):
    """A community member: pages through forum topics, replies to one now and then."""

    weight = 2
    wait_time = think(2, 8)

    def on_start(self) -> None:
        self.log_in()
        self.browse_topics()

    @task(10)
    def read_topics(self) -> None:
        self.browse_topics()

    @task(1)
    def reply(self) -> None:
        if not self.token or not Seen.topic_ids:
            return self.browse_topics()
        topic = random.choice(Seen.topic_ids)
        body = random.choice(["Thanks, that helped!", "Have you tried a generator here?",
                              "Same problem on Python 3.11; pinning the version fixed it.",
                              "Could you post the full traceback?"])
        self.client.post(f"/api/v1/forum/topics/{topic}/posts/", name="forum:post-create", headers=self.auth,
                         json={"body": body})
