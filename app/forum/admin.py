from django.contrib import admin

from forum.models import Category, Post, Topic

admin.site.register(Category)


@admin.register(Topic)
class TopicAdmin(admin.ModelAdmin):
    list_display = ("title", "category", "reply_count", "last_activity_at")
    raw_id_fields = ("author", "last_post")


@admin.register(Post)
class PostAdmin(admin.ModelAdmin):
    list_display = ("topic", "author", "created_at")
    raw_id_fields = ("topic", "author")
