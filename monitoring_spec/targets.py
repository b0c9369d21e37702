"""The guide's benchmark target table (milliseconds, averages) and how an average is graded against it.

Read by the alert rules (per-endpoint latency tickets, the latency SLO), the dashboards' threshold bands,
the Locust grading and `manage.py benchmark`.
"""
from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "EndpointTarget",
    "TARGETS",
    "TARGETS_BY_KEY",
    "TARGETS_BY_VIEW",
    "EXCELLENT",
    "MEETS_TARGET",
    "OVER_TARGET",
    "NEEDS_WORK",
    "GRADES",
    "LOADTEST_MAX_FAILURE_RATIO",
    "grade",
]


@dataclass(frozen=True)
class EndpointTarget:
    key: str  # stable identifier used in file names, rule names and JSON output
    name: str  # the guide's name for the endpoint
    views: tuple[str, ...]  # Django view labels (namespace:url_name); the first is the primary one
    path: str  # an example path, for humans and the benchmark command
    excellent_ms: int  # average below this is Excellent
    target_ms: int  # average below this meets Target
    needs_work_ms: int  # average above this Needs work

    @property
    def view(self) -> str:
        return self.views[0]

    def grade(self, avg_ms: float) -> str:
        return grade(self, avg_ms)


TARGETS: tuple[EndpointTarget, ...] = (
    EndpointTarget("course_list", "Course list", ("courses:course-list",),
                   "/api/v1/courses/", 100, 200, 500),
    EndpointTarget("course_detail", "Course detail", ("courses:course-detail",),
                   "/api/v1/courses/<slug>/", 75, 150, 400),
    EndpointTarget("user_profile", "User profile", ("accounts:user-profile", "accounts:me"),
                   "/api/v1/users/<id>/profile/", 50, 100, 300),
    EndpointTarget("forum_topics", "Forum topics", ("forum:topic-list",),
                   "/api/v1/forum/topics/", 125, 250, 600),
)

TARGETS_BY_KEY = {t.key: t for t in TARGETS}
TARGETS_BY_VIEW = {view: t for t in TARGETS for view in t.views}

# Grades, best first.  "over target" means the average misses Target but is not yet Needs work.
EXCELLENT, MEETS_TARGET, OVER_TARGET, NEEDS_WORK = "excellent", "target", "over target", "needs work"
GRADES = (EXCELLENT, MEETS_TARGET, OVER_TARGET, NEEDS_WORK)

# A load test fails when more than this share of its requests failed (Locust grading, docs/benchmarks.md).
LOADTEST_MAX_FAILURE_RATIO = 0.01


def grade(target: EndpointTarget, avg_ms: float) -> str:
    if avg_ms < target.excellent_ms:
        return EXCELLENT
    if avg_ms < target.target_ms:
        return MEETS_TARGET
    if avg_ms <= target.needs_work_ms:
        return OVER_TARGET
    return NEEDS_WORK
