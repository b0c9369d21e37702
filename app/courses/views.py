from __future__ import annotations

from django.conf import settings
from django.http import JsonResponse
from django.middleware.csrf import CsrfViewMiddleware
from django.views.decorators.csrf import csrf_exempt

from core.api import ApiError, api_view, choice_param, page_params, text_param
from courses import selectors, use_cases
from courses.models import Course
from observability import context as obs

MAX_SLUG_LENGTH = 220


@api_view("GET")
def course_list(request):
    obs.set_feature("course_list")
    page, size = page_params(request)
    return JsonResponse(selectors.list_courses(
        category=choice_param(request, "category", Course.Category.values),
        level=choice_param(request, "level", Course.Level.values),
        q=text_param(request, "q", settings.API_MAX_QUERY_LENGTH),
        ordering=choice_param(request, "ordering", selectors.ORDERINGS, default="newest"),
        page=page,
        page_size=size,
    ))


@api_view("GET")
def course_detail(request, slug: str):
    obs.set_feature("course_detail")
    obs.set_course(slug=slug[:MAX_SLUG_LENGTH])
    if len(slug) > MAX_SLUG_LENGTH:
        raise ApiError(404, "course not found")
    return JsonResponse(selectors.course_detail(slug))


def _check_csrf_for_session(request):
    """Token clients are exempt; a browser session must pass Django's CSRF check."""
    if getattr(request, "token_authenticated", False):
        return
    reason = CsrfViewMiddleware(lambda r: None).process_view(request, None, (), {})
    if reason is not None:
        raise ApiError(403, "CSRF check failed for a session-authenticated request")


@csrf_exempt  # checked in the view: token clients need none, sessions do
@api_view("POST")
def course_enroll(request, slug: str):
    obs.set_feature("course_enrollment")
    obs.set_course(slug=slug[:MAX_SLUG_LENGTH])
    if not request.user.is_authenticated:
        raise ApiError(401, "authentication required (session or 'Authorization: Token <key>')")
    _check_csrf_for_session(request)
    if len(slug) > MAX_SLUG_LENGTH:
        raise ApiError(404, "course not found")
    enrollment, created = use_cases.enroll(request.user, slug)
    return JsonResponse(
        {"course": slug, "enrolled_at": enrollment.enrolled_at.isoformat(), "created": created,
         "progress": float(enrollment.progress)},
        status=201 if created else 200,
    )
