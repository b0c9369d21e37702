"""Issue 15, findings 4 and 12: a token that does not authenticate is a 401, never the session's user; tokens are
stored as digests, expire, are revoked by DELETE and by a password change (not by Django's rehash at sign-in)."""
from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from django.test import Client
from django.utils import timezone
from prometheus_client import REGISTRY

from accounts import tokens
from accounts.models import ApiToken
from forum.models import Post
from tests import factories as f

pytestmark = pytest.mark.django_db

TOKEN_URL = "/api/v1/auth/token/"


class FastPBKDF2(PBKDF2PasswordHasher):
    """A hasher the test can upgrade to without spending a second per hash."""

    algorithm = "pbkdf2_fast_test"
    iterations = 1000


def token_client(secret: str, **kw) -> Client:
    return Client(HTTP_AUTHORIZATION=f"Token {secret}", **kw)


def sign_in(username: str, password: str):
    return Client().post(TOKEN_URL, {"username": username, "password": password}, content_type="application/json")


def security_events(event: str) -> float:
    return REGISTRY.get_sample_value("studio_security_events_total", {"event": event}) or 0.0


def test_the_secret_is_shown_once_and_only_its_digest_is_stored():
    user = f.user(password="right-password-1")
    resp = sign_in(user.username, "right-password-1")
    assert resp.status_code == 200
    body = resp.json()
    secret = body["token"]
    row = ApiToken.objects.get(user=user)
    assert row.key_hash == hashlib.sha256(secret.encode()).hexdigest() and secret not in str(ApiToken.objects.values())
    assert body["expires_at"] == row.expires_at.isoformat()
    assert token_client(secret).get("/api/v1/me/").json()["id"] == user.pk
    second = sign_in(user.username, "right-password-1").json()["token"]  # another client, another token
    assert second != secret and ApiToken.objects.filter(user=user).count() == 2
    assert token_client(secret).get("/api/v1/me/").status_code == 200


@pytest.mark.parametrize("header", [
    "Token unknown-but-well-formed-0123456789", "Token", "Token ", "Token   ", "token a", "Token " + "a" * 500,
    "Token z\u00e4\u00f6\u00fc-not-ascii-0123456789012", "Token a b c d e f g h i j k l m n o p q r s t",
])
def test_a_token_that_does_not_authenticate_is_401_json(header):
    before = security_events("InvalidToken")
    resp = Client().get("/api/v1/me/", HTTP_AUTHORIZATION=header)
    assert resp.status_code == 401 and resp["Content-Type"] == "application/json"
    assert resp.json()["error"]["status"] == 401 and resp["WWW-Authenticate"] == "Token"
    assert security_events("InvalidToken") - before == 1
    # A public page too: a credential that fails is refused, not ignored.
    assert Client().get("/api/v1/courses/", HTTP_AUTHORIZATION=header).status_code == 401


def test_other_schemes_are_left_alone():
    assert Client().get("/api/v1/courses/", HTTP_AUTHORIZATION="Basic dXNlcjpwYXNz").status_code == 200


def test_session_cookie_plus_a_made_up_token_is_401_not_the_session_user():
    """Finding 4: the token skipped CSRF and the session's user posted."""
    user = f.user()
    topic = f.topic()
    course = f.course()
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(user)
    posts = Post.objects.count()

    forged = {"HTTP_AUTHORIZATION": "Token anything-at-all-0123456789abcdef"}
    post = browser.post(f"/api/v1/forum/topics/{topic.pk}/posts/", {"body": "hi"}, content_type="application/json",
                        **forged)
    enroll = browser.post(f"/api/v1/courses/{course.slug}/enroll/", **forged)
    assert (post.status_code, enroll.status_code) == (401, 401)
    assert post.json()["error"]["status"] == 401
    assert Post.objects.count() == posts and not course.enrollments.exists()
    # Without the token the session must pass CSRF: a 403, JSON, counted as a security event (whatever
    # CSRF_FAILURE_VIEW answers, Django logs the rejection on django.security.csrf).
    csrf_before = security_events("csrf")
    refused = browser.post(f"/api/v1/courses/{course.slug}/enroll/")
    assert refused.status_code == 403 and refused.json()["error"]["status"] == 403
    assert security_events("csrf") - csrf_before == 1
    # A real token is its own proof (no CSRF token needed) and speaks for its own user.
    other = f.user()
    ok = browser.post(f"/api/v1/courses/{course.slug}/enroll/", HTTP_AUTHORIZATION=f"Token {f.token_for(other)}")
    assert ok.status_code == 201 and list(course.enrollments.values_list("user_id", flat=True)) == [other.pk]


def test_tokens_expire_after_the_configured_time(settings):
    settings.API_TOKEN_TTL = 120
    user = f.user(password="right-password-1")
    before = timezone.now()
    secret = sign_in(user.username, "right-password-1").json()["token"]
    token = ApiToken.objects.get(user=user)
    assert before + timedelta(seconds=120) <= token.expires_at <= timezone.now() + timedelta(seconds=120)
    assert token_client(secret).get("/api/v1/me/").status_code == 200
    ApiToken.objects.filter(pk=token.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert token_client(secret).get("/api/v1/me/").status_code == 401


def test_delete_revokes_the_callers_token_only():
    user = f.user()
    mine, other = f.token_for(user), f.token_for(user)
    resp = token_client(mine).delete(TOKEN_URL)
    assert resp.status_code == 200 and resp.json() == {"revoked": True}
    assert token_client(mine).get("/api/v1/me/").status_code == 401
    assert token_client(mine).delete(TOKEN_URL).status_code == 401
    assert token_client(other).get("/api/v1/me/").status_code == 200


def test_delete_needs_the_token_itself():
    assert Client().delete(TOKEN_URL).json()["error"]["status"] == 401
    browser = Client()
    browser.force_login(f.user())
    assert browser.delete(TOKEN_URL).status_code == 401  # a session has no token to revoke


def test_a_password_change_revokes_every_token_of_the_user():
    user = f.user(password="right-password-1")
    bystander = f.user()
    secrets_ = [f.token_for(user), f.token_for(user)]
    kept = f.token_for(bystander)
    user.first_name = "unrelated change"
    user.save()
    assert token_client(secrets_[0]).get("/api/v1/me/").status_code == 200

    user.set_password("another-password-2")
    user.save()
    assert [token_client(s).get("/api/v1/me/").status_code for s in secrets_] == [401, 401]
    assert token_client(kept).get("/api/v1/me/").status_code == 200

    fresh = f.token_for(user)
    user.set_unusable_password()
    user.save(update_fields=["password"])
    assert token_client(fresh).get("/api/v1/me/").status_code == 401


def test_the_rehash_at_sign_in_does_not_revoke_tokens(settings):
    """Django upgrades a stored hash when the hasher changed: the password did not, the tokens stay."""
    user = f.user(password="right-password-1")  # MD5 under the test settings
    secret = f.token_for(user)
    settings.PASSWORD_HASHERS = ["tests.test_tokens.FastPBKDF2", "django.contrib.auth.hashers.MD5PasswordHasher"]

    assert sign_in(user.username, "right-password-1").status_code == 200
    user.refresh_from_db()
    assert user.password.startswith(FastPBKDF2.algorithm + "$")  # it was rehashed
    assert token_client(secret).get("/api/v1/me/").status_code == 200


def test_a_user_holds_a_bounded_number_of_tokens(settings):
    settings.API_TOKENS_PER_USER = 2
    user = f.user()
    first, second, third = (f.token_for(user) for _ in range(3))
    assert ApiToken.objects.filter(user=user).count() == 2
    assert [token_client(s).get("/api/v1/me/").status_code for s in (first, second, third)] == [401, 200, 200]


def test_an_inactive_users_token_does_not_authenticate():
    user = f.user()
    secret = f.token_for(user)
    user.is_active = False
    user.save()
    assert token_client(secret).get("/api/v1/me/").status_code == 401
    assert tokens.find(secret) is None
