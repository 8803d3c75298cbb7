"""issue_token and bootstrap_demo, as an operator runs them."""

from __future__ import annotations

from io import StringIO
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.test import Client

from conversations.models import ApiToken

pytestmark = pytest.mark.django_db


def run(*args: str) -> list[str]:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue().strip().splitlines()


def test_issue_token_prints_a_working_token_last_and_stores_only_its_hash() -> None:
    lines = run("issue_token", "counselor1", "--create-user", "--name", "frontend")
    raw = lines[-1]
    assert raw.startswith("ct_") and len(raw) > 40
    token = ApiToken.objects.get(user__username="counselor1")
    assert token.name == "frontend" and raw not in (token.digest, token.prefix) and token.digest != raw
    response = Client(headers={"authorization": f"Bearer {raw}"}).post("/api/session/start")
    assert response.status_code == 201


def test_issue_token_for_an_existing_user_and_errors(user: Any) -> None:
    assert run("issue_token", user.username)[-1].startswith("ct_")
    with pytest.raises(CommandError, match="--create-user"):
        run("issue_token", "ghost")
    user.is_active = False
    user.save()
    with pytest.raises(CommandError, match="inactive"):
        run("issue_token", user.username)
    with pytest.raises(CommandError):
        run("issue_token", "  ")
    # A user the admin could not save is never created.
    for bad, said in (("bad name!", "Enter a valid username"), ("u" * 151, "at most 150 characters")):
        with pytest.raises(CommandError, match=said):
            run("issue_token", bad, "--create-user")
    with pytest.raises(CommandError, match="--name is at most 100 characters"):
        run("issue_token", user.username, "--name", "x" * 101)
    assert not type(user).objects.filter(username__in=["bad name!", "u" * 151]).exists()


def test_bootstrap_demo_creates_a_staff_user_once(settings: Any, tmp_path: Any) -> None:
    settings.DEBUG = True
    settings.LOCAL_DIR = tmp_path
    first = "\n".join(run("bootstrap_demo", "--url", "http://127.0.0.1:9000"))
    assert "http://127.0.0.1:9000/counseling/" in first
    password = (tmp_path / "demo_password").read_text()
    assert f"demo / {password}" in first
    assert password in "\n".join(run("bootstrap_demo"))
    demo = get_user_model().objects.get(username="demo")
    assert demo.is_staff and demo.check_password(password)
    assert Client().login(username="demo", password=password)


def test_bootstrap_demo_refuses_production(settings: Any) -> None:
    settings.DEBUG = False
    with pytest.raises(CommandError, match="DJANGO_DEBUG"):
        run("bootstrap_demo")
