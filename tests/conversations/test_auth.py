"""Authentication: bearer tokens and the session cookie over HTTP, tokens and cookies on WebSockets."""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.test import Client
from django.utils import timezone

from config.asgi import application
from conversations.models import ApiToken, ChatSession
from conversations.selectors import token_user_get
from conversations.services import token_issue, token_revoke
from counseling.services import session_start
from tests.conftest import ws_client

START = "/api/session/start"


def start(client: Client, token: str | None = None, **extra: Any) -> Any:
    if token is not None:
        extra["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    return client.post(START, data={}, content_type="application/json", **extra)


def assert_unauthorized(response: Any) -> None:
    assert response.status_code == 401
    body = response.json()
    assert body["success"] is False
    assert body["error"]["code"] == "UNAUTHORIZED"
    assert any("\uac00" <= ch <= "\ud7a3" for ch in body["error"]["message"])  # Korean text


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings: Any) -> None:
    # Every test here creates users; the production hasher costs ~0.3 s per user.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


# API clients are not browsers: Django's test client skips CSRF unless told otherwise.
@pytest.fixture
def api_client() -> Client:
    return Client(enforce_csrf_checks=True)


# --- HTTP: bearer tokens ------------------------------------------------------------------------


@pytest.mark.django_db
def test_valid_token_starts_a_session_owned_by_its_user(api_client: Client, user: Any, token: str) -> None:
    response = start(api_client, token)

    assert response.status_code == 201
    data = response.json()["data"]
    assert data["sessionId"].startswith("sess_")
    assert ChatSession.objects.get(key=data["sessionId"]).user == user


@pytest.mark.django_db
def test_no_token_is_401(api_client: Client) -> None:
    assert_unauthorized(start(api_client))
    assert_unauthorized(start(Client()))
    assert not ChatSession.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("raw", ["ct_unknown", "", "x" * 500])
def test_unknown_token_is_401(api_client: Client, raw: str) -> None:
    assert_unauthorized(api_client.post(START, data={}, content_type="application/json",
                                        HTTP_AUTHORIZATION=f"Bearer {raw}"))


@pytest.mark.django_db
def test_revoked_token_is_401(api_client: Client, user: Any) -> None:
    api_token, raw = token_issue(user=user)
    assert start(api_client, raw).status_code == 201

    token_revoke(token=api_token)
    assert_unauthorized(start(api_client, raw))


@pytest.mark.django_db
def test_inactive_users_token_is_401(api_client: Client, user: Any, token: str) -> None:
    user.is_active = False
    user.save(update_fields=["is_active"])
    assert_unauthorized(start(api_client, token))


@pytest.mark.django_db
def test_token_use_is_recorded(user: Any) -> None:
    api_token, raw = token_issue(user=user)
    assert api_token.last_used_at is None

    assert token_user_get(raw=raw) == user

    api_token.refresh_from_db()
    assert api_token.last_used_at is not None


@pytest.mark.django_db
def test_token_use_is_written_at_most_once_a_minute(user: Any, django_assert_num_queries: Any) -> None:
    api_token, raw = token_issue(user=user)
    token_user_get(raw=raw)
    with django_assert_num_queries(1):  # the lookup only
        assert token_user_get(raw=raw) == user
    ApiToken.objects.filter(pk=api_token.pk).update(last_used_at=timezone.now() - timedelta(minutes=2))
    with django_assert_num_queries(2):
        token_user_get(raw=raw)
    api_token.refresh_from_db()
    assert timezone.now() - api_token.last_used_at < timedelta(seconds=30)


@pytest.mark.django_db
def test_api_call_records_token_use(api_client: Client, user: Any) -> None:
    api_token, raw = token_issue(user=user)
    start(api_client, raw)
    assert ApiToken.objects.get(pk=api_token.pk).last_used_at is not None


@pytest.mark.django_db
def test_only_a_digest_of_the_token_is_stored(user: Any) -> None:
    api_token, raw = token_issue(user=user)
    stored = ApiToken.objects.filter(pk=api_token.pk).values().get()
    assert raw not in {str(v) for v in stored.values()}


# --- HTTP: the session cookie (pages) -------------------------------------------------------------


@pytest.mark.django_db
def test_session_cookie_requires_csrf(api_client: Client, user: Any) -> None:
    api_client.force_login(user)

    refused = start(api_client)
    assert refused.status_code == 403
    assert refused.json()["success"] is False

    secret = secrets.token_hex(16)  # 32 characters: a valid unmasked CSRF secret
    api_client.cookies[settings.CSRF_COOKIE_NAME] = secret
    accepted = start(api_client, HTTP_X_CSRFTOKEN=secret)
    assert accepted.status_code == 201
    assert ChatSession.objects.get(key=accepted.json()["data"]["sessionId"]).user == user


@pytest.mark.django_db
def test_bearer_token_needs_no_csrf_even_with_a_cookie(api_client: Client, make_user: Any) -> None:
    browser_user, api_user = make_user(), make_user()
    api_client.force_login(browser_user)
    response = start(api_client, token_issue(user=api_user)[1])
    assert response.status_code == 201
    assert ChatSession.objects.get(key=response.json()["data"]["sessionId"]).user == api_user


# --- WebSocket -----------------------------------------------------------------------------------


async def connected_frame(communicator: WebsocketCommunicator) -> dict[str, Any]:
    connected, _ = await communicator.connect()
    assert connected
    frame = await communicator.receive_json_from()
    await communicator.disconnect()
    return frame


async def close_code(communicator: WebsocketCommunicator) -> int | None:
    connected, code = await communicator.connect()
    if not connected:
        return code
    output = await communicator.receive_output()
    assert output["type"] == "websocket.close"
    return output.get("code")


@pytest.fixture
async def session(user: Any) -> ChatSession:
    return await sync_to_async(session_start)(user=user)


@pytest.mark.django_db(transaction=True)
async def test_ws_token_in_query_string(session: ChatSession, token: str) -> None:
    frame = await connected_frame(WebsocketCommunicator(application, f"/ws/session/{session.key}?token={token}"))
    assert frame["type"] == "connected"
    assert frame["data"]["sessionId"] == session.key


@pytest.mark.django_db(transaction=True)
async def test_ws_token_in_authorization_header(session: ChatSession, token: str) -> None:
    frame = await connected_frame(ws_client(f"/ws/session/{session.key}", token=token))
    assert frame["type"] == "connected"


@pytest.mark.django_db(transaction=True)
async def test_ws_session_cookie(session: ChatSession, user: Any) -> None:
    client = Client()
    await sync_to_async(client.force_login)(user)
    cookie = f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"

    communicator = WebsocketCommunicator(application, f"/ws/session/{session.key}",
                                         headers=[(b"cookie", cookie.encode())])
    frame = await connected_frame(communicator)
    assert frame["type"] == "connected"


@pytest.mark.django_db(transaction=True)
async def test_ws_without_a_valid_token_is_closed_4401(session: ChatSession, user: Any) -> None:
    api_token, revoked = await sync_to_async(token_issue)(user=user)
    await sync_to_async(token_revoke)(token=api_token)

    assert await close_code(ws_client(f"/ws/session/{session.key}")) == 4401
    for bad in ("ct_not-a-token", revoked):
        by_query = WebsocketCommunicator(application, f"/ws/session/{session.key}?token={bad}")
        assert await close_code(by_query) == 4401
        assert await close_code(ws_client(f"/ws/session/{session.key}", token=bad)) == 4401
