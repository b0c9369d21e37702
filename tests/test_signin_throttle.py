"""Issue 15, finding 3: failed sign-ins are throttled per client address and per username, in Redis (shared by
every process), with a JSON 429 and Retry-After, before any password is hashed; a dead Redis fails open.

Each test gets counters of its own (a fresh RATELIMIT_CACHE_PREFIX) and sets the limits it tests."""
from __future__ import annotations

import json
import logging
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.test import Client
from prometheus_client import REGISTRY

from accounts import throttle
from core import client_address
from tests import factories as f
from tests.test_metrics_support import delta, http, scrape

pytestmark = pytest.mark.django_db

TOKEN_URL = "/api/v1/auth/token/"
SECURITY = "studio_security_events_total"


@pytest.fixture
def limits(settings):
    """Fresh counters; 5 failures per username, 8 per address, per 15 minutes."""
    settings.RATELIMIT_CACHE_PREFIX = f"rl:{uuid.uuid4().hex}:"
    settings.SIGNIN_THROTTLE_ENABLED = True
    settings.SIGNIN_THROTTLE_USERNAME_RATE = "5/15m"
    settings.SIGNIN_THROTTLE_ADDRESS_RATE = "8/15m"
    return settings


def sign_in(client, username: str, password: str, address: str = "127.0.0.1", **extra):
    return client.post(TOKEN_URL, {"username": username, "password": password}, content_type="application/json",
                       REMOTE_ADDR=address, **extra)


def limit_of(rate: str) -> int:
    return int(rate.split("/")[0])


def throttled_events() -> float:
    return REGISTRY.get_sample_value(SECURITY, {"event": "SigninThrottled"}) or 0.0


def test_sixty_wrong_passwords_for_one_user_from_one_client_are_429_after_the_limit(client, limits):
    user = f.user(password="right-password-1")
    limit = limit_of(limits.SIGNIN_THROTTLE_USERNAME_RATE)
    events_before = throttled_events()

    responses = [sign_in(client, user.username, f"wrong-{i}") for i in range(60)]

    statuses = [r.status_code for r in responses]
    assert statuses == [401] * limit + [429] * (60 - limit), statuses
    refused = responses[-1]
    body = refused.json()
    assert refused["Content-Type"] == "application/json" and body["error"]["status"] == 429
    retry_after = int(refused["Retry-After"])
    assert 1 <= retry_after <= 15 * 60 and body["error"]["retry_after"] == retry_after
    assert throttled_events() - events_before == 60 - limit  # every refused attempt, as a security event
    # The right password does not get in either until the window ends: that is what stops the guessing.
    assert sign_in(client, user.username, "right-password-1").status_code == 429


def test_the_address_limit_counts_failures_across_usernames_and_spares_other_addresses(client, limits):
    limit = limit_of(limits.SIGNIN_THROTTLE_ADDRESS_RATE)
    statuses = [sign_in(client, f"nobody-{i}", "x", address="198.51.100.7").status_code for i in range(limit + 3)]
    assert statuses == [401] * limit + [429] * 3
    assert sign_in(client, "nobody-else", "x", address="198.51.100.8").status_code == 401


def test_the_username_limit_holds_whatever_the_address_and_folds_case(client, limits):
    user = f.user(username="Carol", password="right-password-1")
    limit = limit_of(limits.SIGNIN_THROTTLE_USERNAME_RATE)
    statuses = [sign_in(client, "carol" if i % 2 else "CAROL", "x", address=f"203.0.113.{i}").status_code
                for i in range(limit + 2)]
    assert statuses == [401] * limit + [429] * 2
    assert sign_in(client, user.username, "right-password-1", address="192.0.2.99").status_code == 429


def test_successful_sign_ins_do_not_count(client, limits):
    """A classroom behind one address signing in is not an attack."""
    limit = limit_of(limits.SIGNIN_THROTTLE_ADDRESS_RATE)
    users = [f.user(password="right-password-1") for _ in range(limit + 2)]
    assert {sign_in(client, u.username, "right-password-1").status_code for u in users} == {200}
    assert sign_in(client, users[0].username, "wrong").status_code == 401
    # Nor for the username: a user who signs in often is not guessing.
    often = limit_of(limits.SIGNIN_THROTTLE_USERNAME_RATE) * 2
    assert {sign_in(client, users[1].username, "right-password-1", address=f"192.0.2.{i}").status_code
            for i in range(often)} == {200}


def test_the_throttle_is_off_when_disabled(client, limits):
    limits.SIGNIN_THROTTLE_ENABLED = False
    user = f.user()
    assert {sign_in(client, user.username, "x").status_code for _ in range(12)} == {401}


def test_the_admin_sign_in_is_throttled_too(client, limits):
    staff = f.user(password="right-password-1", is_staff=True, is_superuser=True)
    for _ in range(limit_of(limits.SIGNIN_THROTTLE_USERNAME_RATE)):
        sign_in(client, staff.username, "wrong")
    admin = Client()
    resp = admin.post("/admin/login/?next=/admin/", {"username": staff.username, "password": "right-password-1"})
    assert resp.status_code == 200  # the form again: refused, not signed in
    assert admin.get("/admin/").status_code == 302


def test_forwarded_for_is_ignored_unless_the_proxy_is_trusted(client, limits):
    limit = limit_of(limits.SIGNIN_THROTTLE_ADDRESS_RATE)
    # Not trusted: every forged X-Forwarded-For is still the one REMOTE_ADDR.
    statuses = [sign_in(client, f"nobody-{i}", "x", address="10.1.1.1", HTTP_X_FORWARDED_FOR=f"192.0.2.{i}").status_code
                for i in range(limit + 1)]
    assert statuses[-1] == 429
    # Trusted: the proxy's clients are told apart by the address it appended.
    limits.TRUSTED_PROXY_NETWORKS = ["10.1.1.0/24"]
    assert sign_in(client, "nobody-x", "x", address="10.1.1.1", HTTP_X_FORWARDED_FOR="6.6.6.6, 192.0.2.200"
                   ).status_code == 401


def test_client_address_takes_the_rightmost_untrusted_hop(rf, settings):
    def key(remote, forwarded=None):
        meta = {"REMOTE_ADDR": remote}
        if forwarded is not None:
            meta["HTTP_X_FORWARDED_FOR"] = forwarded
        return client_address.client_key(rf.get("/", **meta))

    settings.TRUSTED_PROXY_NETWORKS = []
    assert key("192.0.2.1", "6.6.6.6") == "192.0.2.1"
    assert key("") == key("not an address") == client_address.UNKNOWN
    assert key("::ffff:192.0.2.1") == "192.0.2.1"
    assert key("2001:db8:1:2:3:4:5:6") == key("2001:db8:1:2:ffff::1") == "2001:db8:1:2::/64"
    settings.TRUSTED_PROXY_NETWORKS = ["10.0.0.0/8", "fd00::/8"]
    assert key("10.0.0.1", "6.6.6.6, 192.0.2.5") == "192.0.2.5"
    assert key("10.0.0.1", "6.6.6.6, 192.0.2.5, 10.0.0.2") == "192.0.2.5"  # two proxies of ours
    assert key("10.0.0.1", "6.6.6.6, garbage, 10.0.0.2") == "10.0.0.1"  # a proxy wrote garbage: believe none of it
    assert key("10.0.0.1") == "10.0.0.1"
    assert key("192.0.2.9", "6.6.6.6") == "192.0.2.9"  # not from a trusted proxy: the header is the client's
    settings.TRUSTED_PROXY_NETWORKS = ["not-a-network"]  # trusts nothing (the system check reports it)
    assert key("10.0.0.1", "6.6.6.6") == "10.0.0.1"


def test_system_check_names_bad_settings(settings):
    from accounts.checks import signin_throttle_settings

    assert signin_throttle_settings() == []
    settings.SIGNIN_THROTTLE_USERNAME_RATE = "ten per minute"
    settings.SIGNIN_THROTTLE_ADDRESS_RATE = "5/0m"
    settings.TRUSTED_PROXY_NETWORKS = ["10.0.0.0/8", "10.0.0.300/32"]
    assert sorted(e.id for e in signin_throttle_settings()) == ["accounts.E001", "accounts.E001", "accounts.E002"]


def test_with_redis_down_sign_ins_still_work_unthrottled_and_it_is_logged(client, limits, redis_server, monkeypatch,
                                                                         caplog):
    limits.CACHES = {"default": {
        "BACKEND": "observability.cache.RedisCache", "LOCATION": redis_server.url, "KEY_PREFIX": "throttle-down",
        "OPTIONS": {"CLIENT_CLASS": "django_redis.client.DefaultClient", "SOCKET_CONNECT_TIMEOUT": 0.25,
                    "SOCKET_TIMEOUT": 0.25, "IGNORE_EXCEPTIONS": True}}}
    monkeypatch.setattr(throttle, "_fail_open", throttle._FailOpenLog())  # its once-a-minute clock starts now
    user = f.user(password="right-password-1")
    limit = limit_of(limits.SIGNIN_THROTTLE_USERNAME_RATE)
    assert [sign_in(client, user.username, "x").status_code for _ in range(limit + 1)][-1] == 429  # Redis counts
    redis_server.stop()

    with caplog.at_level(logging.WARNING, logger="accounts.throttle"):
        statuses = [sign_in(client, user.username, "x").status_code for _ in range(limit + 1)]
        assert sign_in(client, user.username, "right-password-1").status_code == 200

    assert set(statuses) == {401}  # open, never a 500, never locked out by a count it cannot read
    warnings = [r.getMessage() for r in caplog.records if r.name == "accounts.throttle"]
    assert len(warnings) == 1 and "failing open" in warnings[0], warnings  # once, not once per attempt


@pytest.mark.slow
def test_gunicorn_workers_share_one_count_and_the_metrics_see_it(gunicorn_factory, redis_server):
    """Three workers, one Redis: the limit holds however the connections are spread."""
    user = f.user(password="right-password-1")
    # One key prefix for the three (test settings otherwise give each process its own).
    server = gunicorn_factory(workers=3, REDIS_URL=redis_server.url, CACHE_URL=redis_server.url,
                              CACHE_KEY_PREFIX="throttle-shared",
                              SIGNIN_THROTTLE_USERNAME_RATE="6/15m", SIGNIN_THROTTLE_ADDRESS_RATE="1000/15m")
    before = scrape(f"{server.base_url}/metrics")
    statuses, headers = [], []
    for i in range(20):  # one connection each: the workers take turns
        status, hdrs, body = http(f"{server.base_url}{TOKEN_URL}", "POST", {"username": user.username,
                                                                          "password": f"wrong-{i}"})
        statuses.append(status)
        headers.append(hdrs)
        assert json.loads(body)["error"]["status"] == status
    after = scrape(f"{server.base_url}/metrics")

    assert statuses == [401] * 6 + [429] * 14
    assert all(int(h["Retry-After"]) >= 1 for h in headers[6:])
    assert delta(before, after, SECURITY, event="SigninThrottled") == 14
    assert delta(before, after, "studio_errors_total") == 0

    # A concurrent burst (what an attacker sends): attempts count when they start, so the ones in flight
    # cannot slip past the limit while the first are still checking their passwords.
    victim = f.user(password="right-password-1")
    body = {"username": victim.username, "password": "wrong"}
    with ThreadPoolExecutor(12) as pool:  # the three workers' twelve threads
        burst = list(pool.map(lambda _: http(f"{server.base_url}{TOKEN_URL}", "POST", body)[0], range(36)))
    assert sorted(burst) == [401] * 6 + [429] * 30, burst
