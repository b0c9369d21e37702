from django.urls import path

from forum import views

app_name = "forum"

urlpatterns = [
    path("forum/topics/", views.topic_list, name="topic-list"),
    path("forum/topics/<int:topic_id>/posts/", views.post_create, name="post-create"),
]
