from __future__ import annotations

from django.urls import path

from counseling.views import counseling_page

app_name = "counseling"
urlpatterns = [path("", counseling_page, name="page")]
