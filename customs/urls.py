from __future__ import annotations

from django.urls import path

from customs.views import customs_page

app_name = "customs"
urlpatterns = [path("", customs_page, name="page")]
