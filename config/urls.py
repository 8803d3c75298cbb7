from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import include, path
from django.views import defaults
from django.views.generic import RedirectView

from config.api import api

urlpatterns = [
    path("", RedirectView.as_view(url="/counseling/", permanent=False)),
    path("admin/", admin.site.urls),
    path("accounts/", include("django.contrib.auth.urls")),
    path("api/", api.urls),
    path("counseling/", include("counseling.urls")),
    path("customs/", include("customs.urls")),
    path("maice/", include("maice.urls")),
]


def not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    """API clients get the JSON error for an unknown path too (debug off); pages keep Django's."""
    if request.path.startswith("/api/"):
        body = {"success": False, "error": {"code": "NOT_FOUND", "message": "요청한 항목을 찾을 수 없습니다."}}
        return JsonResponse(body, status=404, json_dumps_params={"ensure_ascii": False})
    return defaults.page_not_found(request, exception)


handler404 = not_found
