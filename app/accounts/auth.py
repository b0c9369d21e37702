"""Token authentication beside Django's session authentication."""
from __future__ import annotations

import logging

from accounts import tokens
from core.api import error_response
from monitoring_spec import contract

# A security event, not an error (observability.errors counts the records of django.security.*): anyone
# can send a made-up token.  Named after what happened, as Django names its own security loggers.
invalid_token_log = logging.getLogger(f"django.security.{contract.INVALID_TOKEN_EVENT}")

TOKEN_SCHEME = "token"


class TokenAuthenticationMiddleware:
    """`Authorization: Token <secret>` authenticates the request; CSRF does not apply to it.

    A token that does not authenticate (malformed, unknown, expired, its user inactive) is a 401 whatever
    else the request carries: falling back to the session would let a cross-site request with a made-up
    token pass as the signed-in user without the CSRF check that token requests skip."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        header = request.META.get("HTTP_AUTHORIZATION", "")
        scheme, _, secret = header.partition(" ")
        if scheme.lower() != TOKEN_SCHEME:
            return self.get_response(request)
        token = tokens.find(secret.strip())
        if token is None:
            invalid_token_log.warning("Unauthorized (invalid API token): %s", request.path[:200])
            response = error_response(401, "invalid or expired token: get a new one with POST /api/v1/auth/token/")
            response["WWW-Authenticate"] = "Token"
            return response
        request.user = token.user
        request.auth_token = token
        request.token_authenticated = True
        return self.get_response(request)
