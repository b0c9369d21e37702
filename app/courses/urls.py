from django.urls import path

from courses import views

app_name = "courses"

urlpatterns = [
    path("courses/", views.course_list, name="course-list"),
    path("courses/<slug:slug>/", views.course_detail, name="course-detail"),
    path("courses/<slug:slug>/enroll/", views.course_enroll, name="course-enroll"),
]
