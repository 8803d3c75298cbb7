"""Settings come from the environment, fail loudly, and production mode is deployable."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def manage(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "LLM_", "COUNSELING_"))}
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env={**clean, **env},
                          capture_output=True, text=True, timeout=120)


def test_production_refuses_to_start_without_a_secret_key() -> None:
    result = manage("check", DJANGO_DEBUG="0", DJANGO_ALLOWED_HOSTS="chat.example.com")
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY is required" in result.stderr


def test_production_passes_check_deploy_without_warnings() -> None:
    result = manage("check", "--deploy", "--fail-level", "WARNING", DJANGO_DEBUG="0",
                    DJANGO_SECRET_KEY=secrets.token_urlsafe(50), DJANGO_ALLOWED_HOSTS="chat.example.com")
    assert result.returncode == 0, result.stderr + result.stdout
    assert "no issues" in result.stdout


@pytest.mark.parametrize("name,value", [
    ("DJANGO_DEBUG", "maybe"),
    ("COUNSELING_HISTORY_WINDOW", "50"),
    ("COUNSELING_HISTORY_WINDOW", "ten"),
    ("COUNSELING_RATE", "ten per minute"),
    ("LLM_READ_TIMEOUT", "-1"),
])
def test_malformed_values_fail_loudly(name: str, value: str) -> None:
    result = manage("check", **{name: value})
    assert result.returncode != 0
    assert name in result.stderr


def test_embedded_defaults_need_nothing() -> None:
    result = manage("check")
    assert result.returncode == 0, result.stderr


def test_several_workers_need_redis() -> None:
    # The embedded mode keeps limits, locks and the channel layer in one process's memory.
    clean = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    result = subprocess.run([sys.executable, "manage.py", "check"], cwd=ROOT, capture_output=True, text=True,
                            timeout=120, env={**clean, "WEB_CONCURRENCY": "2"})
    assert result.returncode != 0
    assert "WEB_CONCURRENCY" in result.stderr
