"""Re-encrypt stored message and note text with the current first key after a key rotation."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from conversations.management import ProgressBar
from conversations.moderation import encrypted_rows_count, messages_reencrypt


class Command(BaseCommand):
    help = (
        "Re-encrypt every encrypted value (message texts, counselor notes, screening matches, MAICE questions "
        "and summaries, HS descriptions) with the first key "
        "(SECRET_KEY x first SALT_KEY entry). Rotation: put a new value first in FIELD_ENCRYPTION_KEYS "
        "(or move the old DJANGO_SECRET_KEY to DJANGO_SECRET_KEY_FALLBACKS), run this command, then drop "
        "the old value. Text stored before encryption existed is encrypted too. Safe to run again."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--batch-size", type=int, default=500, help="Rows per transaction (default 500).")
        parser.add_argument("--dry-run", action="store_true", help="Count what would change; write nothing.")

    def handle(self, *args: Any, batch_size: int, dry_run: bool, **options: Any) -> None:
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1.")
        progress = ProgressBar(self.stderr, total=encrypted_rows_count(), label="Re-encrypting rows",
                               every=batch_size, enabled=options.get("verbosity", 1) >= 1)
        result = messages_reencrypt(batch_size=batch_size, dry_run=dry_run, progress=progress.advance)
        progress.finish()
        verb = "Would re-encrypt" if dry_run else "Re-encrypted"
        self.stdout.write(
            f"{verb} {result.reencrypted} value(s), encrypted {result.encrypted_plaintext} plain-text value(s); "
            f"{result.current} already used the current key."
        )
        if result.undecryptable:
            raise CommandError(
                f"{result.undecryptable} value(s) could not be decrypted with any configured key and were left "
                "unchanged. Restore the missing key (SECRET_KEY_FALLBACKS or FIELD_ENCRYPTION_KEYS) and run again."
            )
