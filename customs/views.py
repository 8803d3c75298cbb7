from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.csrf import ensure_csrf_cookie


@ensure_csrf_cookie
def customs_page(request: HttpRequest) -> HttpResponse:
    """The chat page; guests welcome (the API limits them per IP)."""
    return render(request, "customs/index.html", {"max_chars": settings.CUSTOMS_MESSAGE_MAX_CHARS})
