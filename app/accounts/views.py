from __future__ import annotations

import json

from django.contrib.auth import authenticate
from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt

from accounts import selectors
from accounts.models import ApiToken
from core.api import ApiError, api_view
from observability import context as obs

MAX_USER_ID = 2**63 - 1


@api_view("GET")
def user_profile(request, user_id: int):
    obs.set_feature("user_profile")
    if user_id > MAX_USER_ID:
        raise ApiError(404, f"user {user_id} not found")
    return JsonResponse(selectors.get_profile(user_id))


@api_view("GET")
def me(request):
    obs.set_feature("user_profile")
    if not request.user.is_authenticated:
        raise ApiError(401, "authentication required (session or 'Authorization: Token <key>')")
    return JsonResponse(selectors.get_profile(request.user.pk))


@csrf_exempt  # credentials in the body are the proof; no session is involved yet
@api_view("POST")
def obtain_token(request):
    obs.set_feature("auth_token")
    try:
        data = json.loads(request.body or b"{}")
    except (ValueError, UnicodeDecodeError):
        raise ApiError(400, "body must be JSON: {\"username\": ..., \"password\": ...}") from None
    if not isinstance(data, dict) or not isinstance(data.get("username"), str) \
            or not isinstance(data.get("password"), str):
        raise ApiError(400, "body must be JSON: {\"username\": ..., \"password\": ...}")
    user = authenticate(request, username=data["username"][:150], password=data["password"][:128])
    if user is None:
        raise ApiError(401, "invalid credentials")
    token, _ = ApiToken.objects.get_or_create(user=user)
    return JsonResponse({"token": token.key, "user_id": user.pk})
