"""Sign-in throttling: password guessing is slowed down on both sign-in pages."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db

PASSWORD = "pw-for-tests-1234"  # (tests/conftest.py's make_user)
PAGES = ["/accounts/login/", "/admin/login/"]


@pytest.fixture
def counselor(make_user: Any) -> Any:
    return make_user("counselor", is_staff=True)


def _sign_in(page: str, username: str, password: str, address: str = "10.1.1.1") -> tuple[int, str]:
    response = Client(REMOTE_ADDR=address).post(page, {"username": username, "password": password,
                                                       "next": "/admin/" if "admin" in page else "/counseling/"})
    return response.status_code, response.content.decode()


@pytest.mark.parametrize("page", PAGES)
def test_guessing_one_accounts_password_is_stopped_from_any_address(page: str, counselor: Any,
                                                                   settings: Any) -> None:
    settings.LOGIN_FAILURE_RATE = "5/h"
    for attempt in range(5):
        status, html = _sign_in(page, "counselor", f"guess-{attempt}", address=f"10.0.0.{attempt}")
        assert status == 200 and "너무 많습니다" not in html
    # The right password no longer helps within the window, from anywhere, with any case.
    status, html = _sign_in(page, "Counselor", PASSWORD, address="10.9.9.9")
    assert status == 200 and "로그인 시도가 너무 많습니다" in html
    # Other accounts are not affected.
    other = _sign_in(page, "someone-else", "wrong")[1]
    assert "너무 많습니다" not in other


def test_a_successful_sign_in_counts_no_failure(counselor: Any, settings: Any) -> None:
    settings.LOGIN_FAILURE_RATE = "2/h"
    for _ in range(4):
        assert _sign_in("/accounts/login/", "counselor", PASSWORD)[0] == 302


def test_one_address_trying_many_accounts_is_stopped(make_user: Any, settings: Any) -> None:
    settings.LOGIN_RATE = "3/m"
    make_user("student")
    for attempt in range(3):
        assert "너무 많습니다" not in _sign_in("/accounts/login/", f"name{attempt}", "wrong")[1]
    status, html = _sign_in("/admin/login/", "student", PASSWORD)
    assert status == 200 and "로그인 시도가 너무 많습니다" in html
    # Another address signs in as usual.
    assert _sign_in("/accounts/login/", "student", PASSWORD, address="10.2.2.2")[0] == 302
