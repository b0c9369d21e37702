from django.contrib import admin

from accounts.models import ApiToken, Profile


@admin.register(Profile)
class ProfileAdmin(admin.ModelAdmin):
    list_display = ("user", "public_profile", "lessons_completed", "courses_completed", "streak_days")
    search_fields = ("user__username",)


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ("user", "created_at", "expires_at")
    readonly_fields = ("key_hash", "user", "created_at", "expires_at")

    def has_add_permission(self, request):
        return False  # issued at sign-in only (accounts/tokens.py): the admin never sees a secret; deleting revokes
