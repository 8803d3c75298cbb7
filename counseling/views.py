from __future__ import annotations

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.csrf import ensure_csrf_cookie


@login_required
@ensure_csrf_cookie
def counseling_page(request: HttpRequest) -> HttpResponse:
    return render(request, "counseling/index.html", {"max_chars": settings.COUNSELING_MESSAGE_MAX_CHARS})
