from django.urls import path

from accounts import views

app_name = "accounts"

urlpatterns = [
    path("users/<int:user_id>/profile/", views.user_profile, name="user-profile"),
    path("me/", views.me, name="me"),
    path("auth/token/", views.api_token, name="token"),
]
