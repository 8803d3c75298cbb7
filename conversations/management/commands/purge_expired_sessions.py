"""Delete chat sessions past the retention period, with everything attached to them."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from conversations.management import ProgressBar
from conversations.moderation import sessions_purge
from conversations.reports import sessions_expired


class Command(BaseCommand):
    help = (
        "Delete sessions with no activity for longer than the retention period "
        "(settings.SESSION_RETENTION_DAYS, default 365, or --days), together with their messages, "
        "counselor notes, moderation records and transcript access records."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--days", type=int, help="Retention in days (default: SESSION_RETENTION_DAYS).")
        parser.add_argument("--dry-run", action="store_true", help="Only print how many sessions would be deleted.")
        parser.add_argument("--batch-size", type=int, default=500, help="Sessions deleted per transaction.")

    def handle(self, *args: Any, days: int | None, dry_run: bool, batch_size: int, **options: Any) -> None:
        days = days if days is not None else settings.SESSION_RETENTION_DAYS
        if not 1 <= days <= 36500:
            raise CommandError("--days must be between 1 and 36500.")
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1.")
        cutoff = timezone.now() - timedelta(days=days)
        count = sessions_expired(cutoff=cutoff).count()
        stamp = timezone.localtime(cutoff).strftime("%Y-%m-%d %H:%M")
        if dry_run:
            self.stdout.write(f"Dry run: {count} session(s) idle since before {stamp} would be deleted.")
            return
        progress = ProgressBar(self.stderr, total=count, label="Deleting sessions", every=batch_size,
                               enabled=options.get("verbosity", 1) >= 1)
        deleted = sessions_purge(cutoff=cutoff, batch_size=batch_size, progress=progress.advance)
        if count:
            progress.finish()
        self.stdout.write(self.style.SUCCESS(f"Deleted {deleted} session(s) idle since before {stamp}."))
