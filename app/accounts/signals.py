from django.conf import settings
from django.contrib.auth.hashers import is_password_usable
from django.db.models.signals import post_delete, post_save, pre_save
from django.dispatch import receiver

from accounts import cache as profile_cache
from accounts import tokens
from accounts.models import Profile

_REVOKE_TOKENS = "_studio_revoke_tokens"


@receiver(post_save, sender=settings.AUTH_USER_MODEL)
def create_profile(sender, instance, created, raw=False, **kwargs):
    if created and not raw:
        Profile.objects.get_or_create(user=instance)
    profile_cache.invalidate(instance.pk)


@receiver([post_save, post_delete], sender=Profile)
def profile_changed(sender, instance, **kwargs):
    profile_cache.invalidate(instance.user_id)


@receiver(pre_save, sender=settings.AUTH_USER_MODEL)
def note_password_change(sender, instance, raw=False, update_fields=None, **kwargs):
    """A password set explicitly (set_password(): the user, the admin, changepassword) or made unusable revokes
    the user's API tokens.  Not the rehash Django does at sign-in when the hasher or its work factor changed:
    the hash changes there too, but the password does not.  Django itself tells the two apart by `_password`
    (the raw password set_password() keeps until save(), which the rehash clears before saving) to decide
    when to call password_changed(); so does this."""
    if raw or instance._state.adding or (update_fields is not None and "password" not in update_fields):
        return
    if getattr(instance, "_password", None) is not None or _made_unusable(sender, instance):
        setattr(instance, _REVOKE_TOKENS, True)


def _made_unusable(model, user) -> bool:
    """set_unusable_password() since the user was loaded (it keeps no raw password to tell by)."""
    if user.has_usable_password():
        return False
    before = model._default_manager.filter(pk=user.pk).values_list("password", flat=True).first()
    return before is not None and is_password_usable(before)


@receiver(post_save, sender=settings.AUTH_USER_MODEL)
def revoke_tokens_after_password_change(sender, instance, raw=False, **kwargs):
    if getattr(instance, _REVOKE_TOKENS, False):
        setattr(instance, _REVOKE_TOKENS, False)
        tokens.revoke_all(instance.pk)
