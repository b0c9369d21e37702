from __future__ import annotations

from django.contrib.auth import authenticate
from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt

from accounts import selectors, tokens
from accounts.backends import THROTTLED_ATTR
from core.api import ApiError, Field, api_view, error_response, json_body
from observability import context as obs

MAX_USER_ID = 2**63 - 1
# Checked before authenticate() sees them: a NUL or a lone surrogate is a 400, not a database error.
# 4096: Django's own cap on a password's length, from when long ones cost a hashing denial of service.
SIGN_IN_FIELDS = {"username": Field(str, max_length=150), "password": Field(str, max_length=4096)}


@api_view("GET")
def user_profile(request, user_id: int):
    obs.set_feature("user_profile")
    if user_id > MAX_USER_ID:
        raise ApiError(404, f"user {user_id} not found")
    return JsonResponse(selectors.visible_profile(user_id, request.user))


@api_view("GET")
def me(request):
    obs.set_feature("user_profile")
    if not request.user.is_authenticated:
        raise ApiError(401, "authentication required (session or 'Authorization: Token <key>')")
    return JsonResponse(selectors.visible_profile(request.user.pk, request.user))


@csrf_exempt  # POST: credentials in the body are the proof; DELETE: the token itself (never a session)
@api_view("POST", "DELETE")
def api_token(request):
    obs.set_feature("auth_token")
    if request.method == "DELETE":
        return revoke_token(request)
    return obtain_token(request)


def revoke_token(request):
    token = getattr(request, "auth_token", None)
    if token is None:
        raise ApiError(401, "revoking a token needs it: 'Authorization: Token <key>'")
    tokens.revoke(token)
    return JsonResponse({"revoked": True})


def throttled_response(throttled) -> JsonResponse:
    response = error_response(429, "too many failed sign-ins; try again later", retry_after=throttled.retry_after)
    response["Retry-After"] = str(throttled.retry_after)
    return response


def obtain_token(request):
    data = json_body(request, SIGN_IN_FIELDS)
    user = authenticate(request, username=data["username"], password=data["password"])
    if user is None:
        throttled = getattr(request, THROTTLED_ATTR, None)
        if throttled is not None:
            return throttled_response(throttled)
        raise ApiError(401, "invalid credentials")
    token, secret = tokens.issue(user)
    return JsonResponse({"token": secret, "user_id": user.pk, "expires_at": token.expires_at.isoformat()})
