"""The MAICE page: the tutor in a browser, on the session cookie."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.csrf import ensure_csrf_cookie


@login_required
@ensure_csrf_cookie
def maice_page(request: HttpRequest) -> HttpResponse:
    return render(request, "maice/index.html", {"max_chars": settings.MAICE_QUESTION_MAX_CHARS})
