from __future__ import annotations

from django.contrib import admin
from django.contrib.auth.views import LoginView
from django.http import HttpRequest, HttpResponse
from django.urls import include, path
from django.views import defaults
from django.views.generic import RedirectView

from config.api import api, http_error_response
from conversations.forms import LoginForm

urlpatterns = [
    path("", RedirectView.as_view(url="/counseling/", permanent=False)),
    path("admin/", admin.site.urls),
    path("accounts/login/", LoginView.as_view(authentication_form=LoginForm), name="login"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("api/", api.urls),
    path("counseling/", include("counseling.urls")),
    path("customs/", include("customs.urls")),
    path("maice/", include("maice.urls")),
]


def not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    """API clients get the JSON error for an unknown path too (debug off); pages keep Django's."""
    if request.path.startswith("/api/"):
        return http_error_response(request, 404)
    return defaults.page_not_found(request, exception)


handler404 = not_found
