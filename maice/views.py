"""The MAICE page: the tutor in a browser, on the session cookie."""

from __future__ import annotations

import threading

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.csrf import ensure_csrf_cookie

_warm_started = threading.Event()


def _warm_offline_tutor() -> None:
    """With no LLM and the agent in this process, the offline tutor answers here: load its
    Kiwi model and SymPy while the student types, not on their first question."""
    if settings.LLM_BASE_URL or settings.REDIS_URL or _warm_started.is_set():
        return
    _warm_started.set()
    from maice.tutor import warm_up

    threading.Thread(target=warm_up, name="maice-tutor-warm-up", daemon=True).start()


@login_required
@ensure_csrf_cookie
def maice_page(request: HttpRequest) -> HttpResponse:
    _warm_offline_tutor()
    return render(request, "maice/index.html", {"max_chars": settings.MAICE_QUESTION_MAX_CHARS})
