"""Django's middleware, without asgiref's one thread on async requests.

Under ASGI, ``MiddlewareMixin.__acall__`` runs every ``process_request`` and
``process_response`` (and the handler every sync ``process_view``) through
``sync_to_async(thread_sensitive=True)``: one thread per process, shared by every
request in flight, about a dozen hops per request. These subclasses run the hooks on the
event loop when they do no I/O (headers, cookies, URL resolving, lazy objects), and on
the database pool (``run_db``) when they would touch the database: a session or message
store that must be saved. Sync requests (the test client, management code) take Django's
own ``__call__`` unchanged.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib.auth.middleware import AuthenticationMiddleware as _Authentication
from django.contrib.messages.middleware import MessageMiddleware as _Message
from django.contrib.sessions.middleware import SessionMiddleware as _Session
from django.core.checks import CheckMessage, Warning
from django.http import HttpRequest
from django.http.response import HttpResponseBase
from django.middleware.clickjacking import XFrameOptionsMiddleware as _XFrameOptions
from django.middleware.common import CommonMiddleware as _Common
from django.middleware.csrf import CsrfViewMiddleware as _CsrfView
from django.middleware.security import SecurityMiddleware as _Security
from django.utils.deprecation import MiddlewareMixin

from conversations.aio import run_db


class _OnTheLoop:
    """``__acall__`` running the hooks inline; ``_response_needs_io`` sends one to the pool."""

    get_response: Callable[[HttpRequest], Any]
    async_mode: bool

    def __init__(self, get_response: Callable[[HttpRequest], Any]) -> None:
        super().__init__(get_response)  # type: ignore[call-arg]
        view_hook = getattr(self, "process_view", None)
        if self.async_mode and view_hook is not None:
            # The handler wraps a sync ``process_view`` in sync_to_async: given a coroutine
            # function for this instance, it awaits it on the loop instead.
            async def process_view(request: HttpRequest, *args: Any) -> HttpResponseBase | None:
                response: HttpResponseBase | None = view_hook(request, *args)
                return response

            setattr(self, "process_view", process_view)  # noqa: B010 - per instance, not per class

    def _response_needs_io(self, request: HttpRequest) -> bool:
        return False

    async def __acall__(self, request: HttpRequest) -> HttpResponseBase:
        response: HttpResponseBase | None = None
        process_request = getattr(self, "process_request", None)
        if process_request is not None:
            response = process_request(request)
        response = response or await self.get_response(request)
        process_response = getattr(self, "process_response", None)
        if process_response is not None:
            if self._response_needs_io(request):
                response = await run_db(process_response, request, response)
            else:
                response = process_response(request, response)
        assert response is not None
        return response


class SecurityMiddleware(_OnTheLoop, _Security):
    pass


class CommonMiddleware(_OnTheLoop, _Common):
    pass


class CsrfViewMiddleware(_OnTheLoop, _CsrfView):
    """The token lives in a cookie (``CSRF_USE_SESSIONS`` is off): no I/O."""


class AuthenticationMiddleware(_OnTheLoop, _Authentication):
    """Sets the lazy ``request.user``; the session and user load when a view reads it."""


class XFrameOptionsMiddleware(_OnTheLoop, _XFrameOptions):
    pass


class SessionMiddleware(_OnTheLoop, _Session):
    def _response_needs_io(self, request: HttpRequest) -> bool:
        # Django saves a modified session, or any non-empty one with SESSION_SAVE_EVERY_REQUEST.
        return bool(request.session.modified or settings.SESSION_SAVE_EVERY_REQUEST)


class MessageMiddleware(_OnTheLoop, _Message):
    def _response_needs_io(self, request: HttpRequest) -> bool:
        # Storing messages may spill from the cookie into the session, which loads it.
        storage = getattr(request, "_messages", None)
        return storage is not None and bool(storage.used or storage.added_new)


class ContentSecurityPolicyMiddleware(_OnTheLoop, MiddlewareMixin):
    """``CONTENT_SECURITY_POLICY`` on every response that sets none of its own.

    The pages show a model's words, and a model can be talked into writing markup: the
    policy is the backstop behind the pages' escaping (no script, form target, frame or
    image from elsewhere)."""

    def process_response(self, request: HttpRequest, response: HttpResponseBase) -> HttpResponseBase:
        if settings.CONTENT_SECURITY_POLICY and not response.has_header("Content-Security-Policy"):
            response["Content-Security-Policy"] = settings.CONTENT_SECURITY_POLICY
        return response


class ApiErrorMiddleware(_OnTheLoop, MiddlewareMixin):
    """django-ninja answers a wrong method with a plain-text 405: API clients get the JSON error."""

    def process_response(self, request: HttpRequest, response: HttpResponseBase) -> HttpResponseBase:
        if response.status_code != 405 or not request.path.startswith("/api/"):
            return response
        if response.get("Content-Type", "").startswith("application/json"):
            return response
        from config.api import http_error_response  # the API module imports every app

        json_response = http_error_response(request, 405)
        if response.has_header("Allow"):
            json_response["Allow"] = response["Allow"]
        return json_response


# Django's deploy checks look for their own dotted paths (security.W001-W003, silenced in
# settings); this one asks for the subclasses that take their place.
_CHECKED = {
    "config.middleware.SecurityMiddleware": "HSTS, SSL redirect, nosniff and referrer policy",
    "config.middleware.XFrameOptionsMiddleware": "the X-Frame-Options header",
    "config.middleware.CsrfViewMiddleware": "CSRF protection",
}


def middleware_check(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    return [Warning(f"{path} is not in MIDDLEWARE: no {what}.", id="config.W001")
            for path, what in _CHECKED.items() if path not in settings.MIDDLEWARE]
