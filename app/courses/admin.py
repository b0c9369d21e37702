from django.contrib import admin

from courses.models import Course, Enrollment, Lesson


class LessonInline(admin.TabularInline):
    model = Lesson
    extra = 0


@admin.register(Course)
class CourseAdmin(admin.ModelAdmin):
    list_display = ("title", "category", "level", "published", "rating", "enrollment_count")
    list_filter = ("published", "category", "level")
    search_fields = ("title", "slug")
    inlines = [LessonInline]


@admin.register(Enrollment)
class EnrollmentAdmin(admin.ModelAdmin):
    list_display = ("user", "course", "progress", "completed_at")
    raw_id_fields = ("user", "course")
