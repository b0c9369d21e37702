from django.conf import settings
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from accounts import cache as profile_cache
from accounts.models import Profile


@receiver(post_save, sender=settings.AUTH_USER_MODEL)
def create_profile(sender, instance, created, raw=False, **kwargs):
    if created and not raw:
        Profile.objects.get_or_create(user=instance)
    profile_cache.invalidate(instance.pk)


@receiver([post_save, post_delete], sender=Profile)
def profile_changed(sender, instance, **kwargs):
    profile_cache.invalidate(instance.user_id)
