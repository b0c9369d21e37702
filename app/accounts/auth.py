"""Token authentication beside Django's session authentication."""
from __future__ import annotations

from django.utils.functional import SimpleLazyObject

from accounts.models import ApiToken


def _user_for_token(key: str):
    token = ApiToken.objects.select_related("user").filter(key=key, user__is_active=True).first()
    return token.user if token else None


class TokenAuthenticationMiddleware:
    """`Authorization: Token <key>` authenticates the request; CSRF does not apply to it."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        header = request.META.get("HTTP_AUTHORIZATION", "")
        scheme, _, key = header.partition(" ")
        if scheme.lower() == "token" and key.strip():
            key = key.strip()[:64]
            session_user = request.user
            request.user = SimpleLazyObject(lambda: _user_for_token(key) or session_user)
            request.token_authenticated = True
        return self.get_response(request)
