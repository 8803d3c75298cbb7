"""Authentication for HTTP (ninja) and WebSockets (Channels middleware).

HTTP: ``Authorization: Bearer <token>`` or the Django session cookie (with CSRF).
WebSocket: the session cookie, an ``Authorization`` header, or ``?token=`` for
browser clients that cannot set headers. Tokens are never logged.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

from channels.auth import AuthMiddlewareStack
from channels.db import database_sync_to_async
from django.contrib.auth.models import AnonymousUser, User
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from ninja.errors import HttpError
from ninja.security import HttpBearer, SessionAuth

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


class TokenAuthMiddleware:
    """Lets a token override the cookie user on a WebSocket connect."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        raw = _scope_token(scope)
        if raw is not None:
            user = await database_sync_to_async(token_user_get)(raw=raw)
            scope = dict(scope, user=user or AnonymousUser())
        return await self.app(scope, receive, send)


def WebsocketAuthStack(app: Any) -> Any:  # noqa: N802 - mirrors Channels' AuthMiddlewareStack
    return AuthMiddlewareStack(TokenAuthMiddleware(app))


def request_user(request: HttpRequest) -> User:
    """The signed-in user of a request that authentication (API auth or admin) let through."""
    user = request.user
    if not isinstance(user, User):
        raise PermissionDenied
    return user


def _session_user(request: HttpRequest) -> Any:
    from django.contrib.auth import get_user

    return get_user(request)


class AsyncApiAuth:
    """``api_auth`` for async operations: token and session look-ups on the database
    pool (``run_db``), not on the one thread ninja's ``sync_to_async`` would use."""

    is_async = True

    async def __call__(self, request: HttpRequest) -> User | None:
        from ninja.utils import check_csrf

        from conversations.aio import run_db

        scheme, _, raw = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() == "bearer" and raw.strip():
            user = await run_db(token_user_get, raw=raw.strip())
            if user is not None:
                request.user = user
            return user
        user = await run_db(_session_user, request)
        if user is None or not user.is_authenticated:
            return None
        if check_csrf(request) is not None:  # cookie credentials: the CSRF token must match
            raise HttpError(403, "CSRF check failed")
        request.user = user
        return user


async_api_auth = AsyncApiAuth()
