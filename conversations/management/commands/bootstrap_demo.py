"""Create (once) the local demo staff account and print how to sign in."""

from __future__ import annotations

import secrets
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "Create the demo staff user for the embedded dev run (DEBUG only) and print the sign-in details."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--username", default="demo")
        parser.add_argument("--url", default="http://127.0.0.1:8000", help="Where the server will listen.")

    def handle(self, *args: Any, username: str, url: str, **options: Any) -> None:
        if not settings.DEBUG:
            raise CommandError("bootstrap_demo only runs with DJANGO_DEBUG on; use createsuperuser in production.")
        password_file = settings.LOCAL_DIR / f"{username}_password"
        users = get_user_model()
        user = users.objects.filter(username=username).first()
        if user is None or not password_file.exists():
            password = secrets.token_urlsafe(12)
            user = user or users(username=username)
            user.is_staff = user.is_superuser = True
            user.set_password(password)
            user.save()
            settings.LOCAL_DIR.mkdir(exist_ok=True)
            password_file.write_text(password)
            password_file.chmod(0o600)
        password = password_file.read_text().strip()
        provider = (f"OpenAI-compatible at {settings.LLM_BASE_URL}" if settings.LLM_BASE_URL
                    else "offline (set LLM_BASE_URL to use a model)")
        self.stdout.write(
            "\n"
            f"  Counseling page : {url}/counseling/\n"
            f"  Admin           : {url}/admin/\n"
            f"  Sign in as      : {username} / {password}\n"
            f"  API token       : python manage.py issue_token {username}\n"
            f"  LLM provider    : {provider}\n"
        )
