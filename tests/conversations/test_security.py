"""The WebSocket origin check: pages from our hosts and the configured frontends only."""

from __future__ import annotations

from typing import Any

import pytest
from asgiref.sync import sync_to_async

from conversations.models import ChatSession
from conversations.security import origin_allowed
from counseling.services import session_start
from tests.conftest import ws_client


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings: Any) -> None:
    # Every test here creates users; the production hasher costs ~0.3 s per user.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def hosts(settings: Any) -> None:
    settings.ALLOWED_HOSTS = ["chat.example.kr", ".example.org", "127.0.0.1", "[::1]"]
    settings.CORS_ALLOWED_ORIGINS = ["https://app.partner.kr"]


@pytest.mark.parametrize("origin", [
    "https://chat.example.kr",
    "http://chat.example.kr:8000",  # pages are served from a port; ALLOWED_HOSTS name none
    "https://CHAT.example.kr",
    "https://www.example.org",  # a ".example.org" wildcard
    "http://127.0.0.1:8000",
    "http://[::1]:8000",
    "https://app.partner.kr",  # a configured frontend
])
def test_allowed_origins(hosts: None, origin: str) -> None:
    assert origin_allowed(origin)


@pytest.mark.parametrize("origin", [
    "https://evil.example",
    "https://chat.example.kr.evil.example",
    "https://evilchat.example.kr",
    "https://app.partner.kr:8443",  # CORS origins match exactly, port included
    "https://partner.kr",
    "null",  # sandboxed frames and file:// pages
    "",
])
def test_foreign_origins(hosts: None, origin: str) -> None:
    assert not origin_allowed(origin)


@pytest.fixture
async def session(user: Any) -> ChatSession:
    return await sync_to_async(session_start)(user=user)


async def handshake(session: ChatSession, token: str, origin: str | None) -> bool:
    communicator = ws_client(f"/ws/session/{session.key}", token=token, origin=origin)
    connected, _ = await communicator.connect()
    if connected:
        assert (await communicator.receive_json_from())["type"] == "connected"
        await communicator.disconnect()
    return connected


async def test_ws_handshake_from_a_foreign_origin_is_rejected(hosts: None) -> None:
    # Refused before authentication even starts (no database is touched): a foreign page
    # must not open the socket at all, whatever credentials it carries.
    communicator = ws_client("/ws/session/sess_any", token="ct_any", origin="https://evil.example")
    connected, _ = await communicator.connect()
    assert not connected


@pytest.mark.django_db(transaction=True)
async def test_ws_handshake_from_our_pages_or_without_origin_is_accepted(
    hosts: None, session: ChatSession, token: str
) -> None:
    for origin in ("http://chat.example.kr:8000", "https://app.partner.kr", None):
        assert await handshake(session, token, origin), origin
