"""Issue 15, finding 5: profiles by sequential id showed everyone's enrolments, progress and learning stats.

Anonymous callers and other users see the public fields; the owner and staff see everything, and so does
everyone when the owner made the profile public (off by default)."""
from __future__ import annotations

import json

import pytest
from django.test import Client

from accounts.models import Profile
from accounts.selectors import PUBLIC_FIELDS
from tests import factories as f

pytestmark = pytest.mark.django_db

PRIVATE_KEYS = {"enrollments", "progress"}
PRIVATE_STATS = ("lessons_completed", "courses_completed", "minutes_learned", "streak_days")


@pytest.fixture
def learner():
    user = f.user(password="right-password-1")
    Profile.objects.filter(user=user).update(bio="Pythonista", minutes_learned=4321, streak_days=17)
    course = f.course(slug="secret-course-slug")
    f.enrollment(user, course, progress=75)
    return user


def profile_as(client: Client, user) -> dict:
    resp = client.get(f"/api/v1/users/{user.pk}/profile/")
    assert resp.status_code == 200
    return resp.json()


def assert_public_only(body: dict, user) -> None:
    assert set(body) == {*PUBLIC_FIELDS, "profile"}
    assert body["id"] == user.pk and body["username"] == user.username and body["public_profile"] is False
    assert body["profile"] == {"bio": "Pythonista", "avatar_url": ""}
    text = json.dumps(body)
    assert "secret-course-slug" not in text and "4321" not in text and "completed_at" not in text


def assert_everything(body: dict) -> None:
    assert set(body) >= PRIVATE_KEYS
    assert body["enrollments"][0]["course"]["slug"] == "secret-course-slug"
    assert body["profile"]["stats"]["minutes_learned"] == 4321 and body["profile"]["stats"]["streak_days"] == 17


def test_anonymous_callers_and_other_users_see_public_fields_only(learner):
    owner = Client()
    owner.force_login(learner)
    assert_everything(profile_as(owner, learner))  # the owner first: the cached payload is the whole one

    assert_public_only(profile_as(Client(), learner), learner)
    stranger = Client(HTTP_AUTHORIZATION=f"Token {f.token_for(f.user())}")
    assert_public_only(profile_as(stranger, learner), learner)


def test_the_owner_and_staff_see_everything(learner):
    assert_everything(Client(HTTP_AUTHORIZATION=f"Token {f.token_for(learner)}").get("/api/v1/me/").json())
    staff = Client()
    staff.force_login(f.user(is_staff=True))
    assert_everything(profile_as(staff, learner))


def test_a_public_profile_is_shown_to_everyone_and_the_switch_takes_effect_at_once(learner):
    anonymous = Client()
    assert_public_only(profile_as(anonymous, learner), learner)  # cached now
    profile = Profile.objects.get(user=learner)
    profile.public_profile = True
    profile.save()
    body = profile_as(anonymous, learner)
    assert_everything(body)
    assert body["public_profile"] is True
    profile.public_profile = False
    profile.save()
    assert_public_only(profile_as(anonymous, learner), learner)


def test_public_profile_is_off_by_default():
    assert f.user().profile.public_profile is False
