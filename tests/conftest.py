"""Shared fixtures: users, tokens, the fake upstream LLM and WebSocket clients."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import django_ratelimit.core
import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.db import connections

import conversations.ratelimit
from conversations.llm import reset_providers
from conversations.services import token_issue
from conversations.sqlite import sqlite_keepers_close
from conversations.testing.fake_openai import Behaviour, FakeOpenAI
from tests.webhook import WebhookReceiver

pytest_plugins = ["tests.customs.hs_fixtures"]


def pytest_sessionstart(session: pytest.Session) -> None:
    # A run that was killed leaves the SQLite test database's WAL behind; the database
    # is recreated now, and must not inherit it.
    database = settings.DATABASES["default"]
    if database["ENGINE"].endswith("sqlite3"):
        name = Path(database["TEST"]["NAME"])
        for path in (name, name.with_name(name.name + "-wal"), name.with_name(name.name + "-shm")):
            path.unlink(missing_ok=True)


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup: None) -> Iterator[None]:
    yield
    # The test database is dropped next. Async tests read through Django's async ORM,
    # which runs in asgiref's one sync thread and, with no request ending there, leaves
    # that thread's connection open: PostgreSQL would refuse the drop. A new loop with
    # no outer async_to_sync sends the call to that same thread.
    asyncio.run(sync_to_async(connections.close_all)())
    # SQLite: close the idle connection so the WAL goes with the deleted file.
    sqlite_keepers_close()


@pytest.fixture(autouse=True)
def _clean_state(settings: Any) -> Iterator[None]:
    # Rate-limit counters and locks live in the cache (Redis in CI): start each test clean.
    cache.clear()
    settings.OFFLINE_LLM_TOKEN_DELAY_MS = 0
    # The default hasher costs ~0.3 s per user; tests create many.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    reset_providers()
    yield
    reset_providers()


class Clock:
    """The rate limiter's view of the time.

    Windows are fixed and each key's edge falls at its own second of the minute, so a
    test that counts on the real clock now and then straddles an edge and loses a hit.
    """

    def __init__(self) -> None:
        self.now = float(int(time.time()))

    def time(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock()
    frozen = SimpleNamespace(time=fake.time)
    monkeypatch.setattr(django_ratelimit.core, "time", frozen)
    monkeypatch.setattr(conversations.ratelimit, "time", frozen)
    return fake


@pytest.fixture
def make_user(db: None) -> Any:
    counter = iter(range(1, 10_000))

    def make(username: str | None = None, **extra: Any) -> Any:
        return get_user_model().objects.create_user(
            username=username or f"user{next(counter)}", password="pw-for-tests-1234", **extra
        )

    return make


@pytest.fixture
def user(make_user: Any) -> Any:
    return make_user("alice")


@pytest.fixture
def token(user: Any) -> str:
    return token_issue(user=user)[1]


@pytest.fixture
def fake_llm(settings: Any) -> Iterator[FakeOpenAI]:
    """The real openai client, talking to a fake OpenAI-compatible server on loopback."""
    with FakeOpenAI(Behaviour()) as fake:
        settings.LLM_BASE_URL = fake.base_url
        settings.LLM_API_KEY = "test-key"
        settings.LLM_READ_TIMEOUT = 1.0
        settings.LLM_MAX_RETRIES = 0
        # The risk classifier's second request would change what most tests count;
        # the tests of the classifier turn it on (tests/counseling/test_crisis.py).
        settings.CRISIS_LLM_CLASSIFIER = False
        reset_providers()
        yield fake
    reset_providers()


@pytest.fixture
def alert_webhook(settings: Any) -> Iterator[WebhookReceiver]:
    """The on-call webhook, receiving in the test process: a live server's alerts reach it.
    List it before the server's fixture, which inherits the URL when it forks."""
    with WebhookReceiver() as receiver:
        settings.CRISIS_ALERT_WEBHOOK_URL = receiver.url
        settings.CRISIS_ALERT_NOTIFIERS = ["conversations.alerts.webhook_notify"]
        yield receiver


@pytest.fixture
def moderation(settings: Any) -> Any:
    """The provider's moderation endpoint on (the fake's); list it before a live server."""
    settings.LLM_MODERATION = True
    settings.LLM_MODERATION_MODEL = "moderation-test"
    return settings


def ws_client(path: str, *, token: str | None = None, origin: str | None = None) -> WebsocketCommunicator:
    from config.asgi import application

    headers = []
    if token:
        headers.append((b"authorization", f"Bearer {token}".encode()))
    if origin:
        headers.append((b"origin", origin.encode()))
    return WebsocketCommunicator(application, path, headers=headers)
