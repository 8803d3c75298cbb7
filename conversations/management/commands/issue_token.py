"""Issue an API token. The raw token is printed once, as the last line of output."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import translation

from conversations.models import ApiToken
from conversations.services import token_issue


class Command(BaseCommand):
    help = "Issue a bearer API token for USERNAME. Only its hash is stored; the raw token is the last line."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--create-user", action="store_true", help="Create the user if it does not exist.")
        parser.add_argument("--name", default="", help="A label to tell tokens apart in admin.")

    def handle(self, *args: Any, username: str, create_user: bool, name: str, **options: Any) -> None:
        users = get_user_model()
        username = username.strip()
        if not username:
            raise CommandError("USERNAME must not be empty.")
        user = users.objects.filter(username=username).first()
        limit = ApiToken._meta.get_field("name").max_length or 0
        if len(name) > limit:
            raise CommandError(f"--name is at most {limit} characters.")
        if user is None:
            if not create_user:
                raise CommandError(f"No user named {username!r}. Pass --create-user to create one.")
            candidate = users(username=username)
            with translation.override("en"):  # (the command speaks English throughout)
                try:
                    candidate.full_clean(exclude=["password"])
                except ValidationError as error:
                    raise CommandError(f"Cannot create {username!r}: {' '.join(error.messages)}") from error
            user = users.objects.create_user(username=username)  # no password: token-only
            self.stdout.write(f"Created user {username!r} (no password; token access only).")
        elif not user.is_active:
            raise CommandError(f"User {username!r} is inactive.")
        token, raw = token_issue(user=user, name=name)
        self.stdout.write(f"Issued token {token.prefix}… for {username!r}. Store it now: it is not shown again.")
        self.stdout.write(raw)
