"""Send the on-call alerts of urgent decisions that never got theirs (the process died first)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from conversations.alerts import alert_send
from conversations.management import ProgressBar
from conversations.models import ScreeningDecision


class Command(BaseCommand):
    help = (
        "Send the crisis alert of every urgent screening decision that has none yet, older than --after "
        "seconds (an alert is normally sent within a second; run this every minute from cron)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--after", type=int, default=60, help="Only decisions at least this many seconds old.")
        parser.add_argument("--dry-run", action="store_true", help="Only print how many alerts are pending.")

    def handle(self, *args: Any, after: int, dry_run: bool, **options: Any) -> None:
        if after < 0:
            raise CommandError("--after must be 0 or more.")
        pending = list(ScreeningDecision.objects.filter(
            urgent=True, alerted_at__isnull=True, created_at__lte=timezone.now() - timedelta(seconds=after),
        ).order_by("created_at").values_list("pk", flat=True))
        if dry_run:
            self.stdout.write(f"Dry run: {len(pending)} alert(s) pending.")
            return
        progress = ProgressBar(self.stderr, total=len(pending), label="Sending alerts",
                               enabled=options.get("verbosity", 1) >= 1)
        for pk in pending:
            alert_send(decision_id=pk)
            progress.advance(1)
        if pending:
            progress.finish()
        self.stdout.write(self.style.SUCCESS(f"Sent {len(pending)} pending alert(s)."))
