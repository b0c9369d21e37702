"""Any write that shows in a course payload retires the cached payloads."""
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from accounts import cache as profile_cache
from courses import cache as course_cache
from courses.models import Course, Enrollment, Lesson


@receiver([post_save, post_delete], sender=Course)
@receiver([post_save, post_delete], sender=Lesson)
def course_changed(sender, instance, **kwargs):
    course_cache.invalidate_all()


@receiver([post_save, post_delete], sender=Enrollment)
def enrollment_changed(sender, instance, **kwargs):
    course_cache.invalidate_all()  # enrolment counts show in the detail payload
    profile_cache.invalidate(instance.user_id)
