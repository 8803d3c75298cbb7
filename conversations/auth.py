"""Authentication for HTTP (ninja) and WebSockets (``socket_user``).

HTTP: ``Authorization: Bearer <token>`` or the Django session cookie (with CSRF).
WebSocket: the session cookie, an ``Authorization`` header, or ``?token=`` for
browser clients that cannot set headers. Tokens are never logged.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any
from urllib.parse import parse_qs

from django.conf import settings
from django.contrib import auth
from django.contrib.auth.models import AnonymousUser, User
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from django.http.cookie import parse_cookie
from ninja.errors import AuthenticationError, HttpError
from ninja.security import HttpBearer, SessionAuth
from ninja.utils import check_csrf

from conversations.aio import run_db
from conversations.selectors import token_user_get


class BearerTokenAuth(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str) -> Any:
        user = token_user_get(raw=token)
        if user is not None:
            request.user = user
        return user


class SessionCookieAuth(SessionAuth):
    """The Django session cookie, CSRF-checked only when it actually signs someone in.

    Ninja's ``SessionAuth`` runs the CSRF check first, so an API client with a missing
    or revoked token got 403 (CSRF) instead of 401. CSRF protects cookie credentials
    only; a request the cookie does not authenticate has nothing to protect.
    """

    def _get_key(self, request: HttpRequest) -> str | None:
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return None
        return super()._get_key(request)


# Bearer first: API clients never carry a CSRF token, pages always carry a cookie.
api_auth = [BearerTokenAuth(), SessionCookieAuth()]


def _scope_token(scope: dict[str, Any]) -> str | None:
    for name, value in scope.get("headers", []):
        if name == b"authorization":
            scheme, _, raw = value.decode("latin1").partition(" ")
            if scheme.lower() == "bearer" and raw.strip():
                return raw.strip()
    query = parse_qs(scope.get("query_string", b"").decode("latin1"))
    values = query.get("token")
    return values[0] if values else None


def socket_user(scope: dict[str, Any]) -> User | AnonymousUser:
    """The user a WebSocket connect authenticates as: a token, else the session cookie.

    Sync (database work): consumers call it through ``run_db`` after accepting, so a
    handshake never waits on the database. A token that fails is not signed in, even
    with a valid cookie beside it.
    """
    raw = _scope_token(scope)
    if raw is not None:
        return token_user_get(raw=raw) or AnonymousUser()
    cookies: dict[str, str] = {}
    for name, value in scope.get("headers", []):
        if name == b"cookie":
            cookies.update(parse_cookie(value.decode("latin1")))
    session_key = cookies.get(settings.SESSION_COOKIE_NAME)
    if not session_key:
        return AnonymousUser()
    request = HttpRequest()
    request.session = import_module(settings.SESSION_ENGINE).SessionStore(session_key)
    user = auth.get_user(request)  # checks the session's auth hash, as Django's middleware does
    return user if isinstance(user, User) else AnonymousUser()


def request_user(request: HttpRequest) -> User:
    """The signed-in user of a request that authentication (API auth or admin) let through."""
    user = request.user
    if not isinstance(user, User):
        raise PermissionDenied
    return user


def _cookie_user(request: HttpRequest) -> User | None:
    user = request.user  # lazy: reading it loads the session and the user
    return user if isinstance(user, User) and user.is_authenticated and user.is_active else None


async def request_user_optional(request: HttpRequest) -> User | None:
    """The caller of an async view that guests may use, found without asgiref's one thread.

    A bearer token must be valid (else 401: a broken client should not silently become a
    guest); the session cookie signs in only with a valid CSRF token (else 403).
    """
    scheme, _, raw = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer" and raw.strip():
        user = await run_db(token_user_get, raw=raw.strip())
        if user is None:
            raise AuthenticationError()
        request.user = user
        return user
    if not request.COOKIES.get(settings.SESSION_COOKIE_NAME):
        return None
    cookie_user = await run_db(_cookie_user, request)
    if cookie_user is None:
        return None
    if check_csrf(request, request_user_optional) is not None:
        raise HttpError(403, "CSRF check failed")
    return cookie_user


class AsyncApiAuth:
    """``api_auth`` for async operations: token and session look-ups on the database
    pool (``run_db``), not on the one thread ninja's ``sync_to_async`` would use."""

    is_async = True

    async def __call__(self, request: HttpRequest) -> User | None:
        try:
            return await request_user_optional(request)
        except AuthenticationError:
            return None  # ninja answers 401


async_api_auth = AsyncApiAuth()
