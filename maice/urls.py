from __future__ import annotations

from django.urls import path

from maice.views import maice_page

app_name = "maice"
urlpatterns = [path("", maice_page, name="page")]
