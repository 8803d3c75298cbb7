"""Delete chat sessions past the retention period with their messages and notes, and audit
rows past theirs."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from conversations.management import ProgressBar
from conversations.moderation import audit_expired_count, audit_purge, sessions_purge
from conversations.reports import sessions_expired


class Command(BaseCommand):
    help = (
        "Delete sessions with no activity for longer than the retention period "
        "(settings.SESSION_RETENTION_DAYS, default 365, or --days), together with their messages "
        "and counselor notes. Their moderation and transcript access records stay, with the session's "
        "key, until they are older than settings.AUDIT_RETENTION_DAYS (default 1825, or --audit-days)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--days", type=int, help="Retention in days (default: SESSION_RETENTION_DAYS).")
        parser.add_argument("--audit-days", type=int,
                            help="Audit log retention in days (default: AUDIT_RETENTION_DAYS).")
        parser.add_argument("--dry-run", action="store_true", help="Only print how many rows would be deleted.")
        parser.add_argument("--batch-size", type=int, default=500, help="Sessions deleted per transaction.")

    def handle(self, *args: Any, days: int | None, audit_days: int | None, dry_run: bool, batch_size: int,
               **options: Any) -> None:
        days = days if days is not None else settings.SESSION_RETENTION_DAYS
        audit_days = audit_days if audit_days is not None else settings.AUDIT_RETENTION_DAYS
        for option, value in (("--days", days), ("--audit-days", audit_days)):
            if not 1 <= value <= 36500:
                raise CommandError(f"{option} must be between 1 and 36500.")
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1.")
        now = timezone.now()
        cutoff, audit_cutoff = now - timedelta(days=days), now - timedelta(days=audit_days)
        count = sessions_expired(cutoff=cutoff).count()
        stamp, audit_stamp = (timezone.localtime(t).strftime("%Y-%m-%d %H:%M") for t in (cutoff, audit_cutoff))
        if dry_run:
            self.stdout.write(f"Dry run: {count} session(s) idle since before {stamp} would be deleted, and "
                              f"{audit_expired_count(cutoff=audit_cutoff)} audit record(s) written before "
                              f"{audit_stamp}.")
            return
        progress = ProgressBar(self.stderr, total=count, label="Deleting sessions", every=batch_size,
                               enabled=options.get("verbosity", 1) >= 1)
        deleted = sessions_purge(cutoff=cutoff, batch_size=batch_size, progress=progress.advance)
        if count:
            progress.finish()
        self.stdout.write(self.style.SUCCESS(f"Deleted {deleted} session(s) idle since before {stamp}."))
        audited = audit_purge(cutoff=audit_cutoff)
        self.stdout.write(self.style.SUCCESS(f"Deleted {audited} audit record(s) written before {audit_stamp}."))
