"""Django's middleware on async requests: nothing waits for asgiref's one shared thread,
and what must be saved (the session, admin messages) still is."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.core.signals import request_started
from django.test import AsyncClient

pytestmark = pytest.mark.django_db(transaction=True)


async def test_an_async_api_request_does_not_wait_for_a_busy_shared_thread() -> None:
    released = threading.Event()
    holders: list[asyncio.Future[Any]] = []

    async def occupy_the_shared_thread(**kwargs: Any) -> None:
        # Once the request has started: a slow sync view (an admin export, say) holding
        # the one thread-sensitive thread while the middleware and the view run.
        holders.append(asyncio.ensure_future(sync_to_async(released.wait, thread_sensitive=True)(10)))

    request_started.connect(occupy_the_shared_thread)
    try:
        response = await asyncio.wait_for(AsyncClient().post("/api/maice/chat", {"question": "x"},
                                                             content_type="application/json"), 5)
    finally:
        request_started.disconnect(occupy_the_shared_thread)
        released.set()
        await asyncio.gather(*holders)
    assert holders, "the request never started"
    assert response.status_code == 401


@pytest.fixture
def staff(django_user_model: Any) -> Any:
    return django_user_model.objects.create_superuser("counselor", "c@example.com", "pw-123456")


async def _signed_in(staff: Any) -> AsyncClient:
    client = AsyncClient()
    response = await client.post("/admin/login/?next=/admin/", {"username": staff.username, "password": "pw-123456"})
    assert response.status_code == 302, "the login form was not accepted"
    return client


async def test_an_admin_sign_in_is_kept_in_the_session(staff: Any) -> None:
    client = await _signed_in(staff)
    response = await client.get("/admin/")
    assert response.status_code == 200
    assert "counselor" in response.content.decode()


async def test_an_admin_message_is_shown_after_the_redirect(staff: Any) -> None:
    client = await _signed_in(staff)
    response = await client.post("/admin/auth/group/add/", {"name": "상담팀"}, follow=True)
    assert response.status_code == 200
    assert "상담팀" in response.content.decode()
    assert 'class="success"' in response.content.decode()


def test_the_deploy_check_asks_for_the_security_middleware(settings: Any) -> None:
    from config.middleware import middleware_check

    assert middleware_check() == []
    settings.MIDDLEWARE = [m for m in settings.MIDDLEWARE if m != "config.middleware.CsrfViewMiddleware"]
    assert [w.id for w in middleware_check()] == ["config.W001"]


@pytest.mark.parametrize("path", ["/counseling/", "/maice/", "/customs/", "/accounts/login/", "/api/maice/sessions"])
async def test_every_response_carries_the_content_security_policy(path: str) -> None:
    response = await AsyncClient().get(path)
    policy = response["Content-Security-Policy"]
    # Nothing from elsewhere: no script, image, form target or framing page.
    for directive in ("script-src 'self'", "img-src 'self' data:", "form-action 'self'", "frame-ancestors 'none'"):
        assert directive in policy


def test_the_policy_can_be_left_to_a_proxy(client: Any, settings: Any) -> None:
    settings.CONTENT_SECURITY_POLICY = ""
    assert "Content-Security-Policy" not in client.get("/accounts/login/")


@pytest.mark.parametrize("path", ["/api/maice/sessions", "/admin/login/", "/maice/"])
def test_only_the_api_answers_a_configured_frontend(client: Any, settings: Any, path: str) -> None:
    # Cookies go with a frontend's credentialed requests: the admin must not be readable by one.
    settings.CORS_ALLOWED_ORIGINS = ["https://front.example"]
    response = client.get(path, headers={"Origin": "https://front.example"})
    allowed = response.headers.get("Access-Control-Allow-Origin")
    assert allowed == ("https://front.example" if path.startswith("/api/") else None)
