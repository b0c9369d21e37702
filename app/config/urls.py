from django.apps import apps
from django.conf import settings
from django.contrib import admin
from django.urls import include, path, re_path

from core import views as core_views
from observability import views as metrics_views

urlpatterns = [
    path("healthz", core_views.healthz, name="healthz"),
    path("readyz", core_views.readyz, name="readyz"),
    path("api/v1/", include("courses.urls")),
    path("api/v1/", include("accounts.urls")),
    path("api/v1/", include("forum.urls")),
    # Unknown API paths answer JSON even with DEBUG on (one bounded view label for all of them).
    re_path(r"^api/", core_views.not_found, name="api-not-found"),
    path("admin/", admin.site.urls),
]
if settings.INSTRUMENTATION:  # STUDIO_INSTRUMENTATION=off (the bare app, measuring only): no /metrics, a 404
    urlpatterns.append(path("metrics", metrics_views.metrics_view, name="prometheus-django-metrics"))  # protected
if apps.is_installed("drills"):  # failing-on-purpose endpoints (settings: with_drills); 404 in production
    urlpatterns.append(path("_drill/", include("drills.urls")))
if "silk" in settings.INSTALLED_APPS:  # development settings only (SILK_ENABLED); 404 everywhere else
    urlpatterns.append(path("silk/", include("silk.urls", namespace="silk")))

handler400 = "core.views.bad_request"
handler403 = "core.views.permission_denied"
handler404 = "core.views.not_found"
handler500 = "core.views.server_error"
