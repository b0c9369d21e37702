from django.contrib import admin
from django.urls import include, path

from core import views as core_views

urlpatterns = [
    path("healthz", core_views.healthz, name="healthz"),
    path("readyz", core_views.readyz, name="readyz"),
    path("api/v1/", include("courses.urls")),
    path("api/v1/", include("accounts.urls")),
    path("api/v1/", include("forum.urls")),
    path("admin/", admin.site.urls),
    path("", include("django_prometheus.urls")),
]

handler400 = "core.views.bad_request"
handler403 = "core.views.permission_denied"
handler404 = "core.views.not_found"
handler500 = "core.views.server_error"
