"""Export transcripts as JSON, JSON Lines or CSV, to a file or stdout. Every exported
session is recorded in the transcript audit log (kind export_command)."""

from __future__ import annotations

import functools
import getpass
import os
import socket
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import Any

from django.contrib.auth.models import User
from django.core.management.base import BaseCommand, CommandError, CommandParser

from conversations.management import ProgressBar
from conversations.models import ChatSession, Product, TranscriptAccess
from conversations.moderation import transcript_accesses_record
from conversations.reports import csv_text, sessions_for_export, transcript_csv_rows, transcript_json

FORMATS = ("json", "jsonl", "csv")


def _day(value: str) -> date:
    try:
        day = datetime.strptime(value, "%Y-%m-%d").date()
    except ValueError as error:
        raise CommandError(f"Invalid date {value!r}: use YYYY-MM-DD, e.g. 2025-01-31.") from error
    if not 1900 <= day.year <= 9998:  # (a local day's bounds in UTC must still be dates)
        raise CommandError(f"Invalid date {value!r}: the year must be between 1900 and 9998.")
    return day


def _login() -> str:
    """Who runs this on the host: the sudo caller rather than root, the uid if it has no name."""
    try:
        name = os.environ.get("SUDO_USER") or getpass.getuser()
    except (KeyError, OSError):  # (a container's uid without a passwd entry)
        name = f"uid {os.getuid()}"
    return f"{name}@{socket.gethostname()}"[:200]


def _staff(username: str) -> User:
    user = User.objects.filter(username=username, is_active=True, is_staff=True).first()
    if user is None:
        raise CommandError(f"--operator {username!r} is not an active staff account.")
    return user


class Command(BaseCommand):
    help = (
        "Export chat transcripts (session metadata and every message) as json, jsonl or csv. "
        "Dates select sessions by start day in the server time zone, both ends inclusive. "
        "Data goes to stdout unless --output is given; progress goes to stderr."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--product", choices=Product.values, help="Only this product's sessions.")
        parser.add_argument("--since", metavar="YYYY-MM-DD", help="Sessions started on or after this day.")
        parser.add_argument("--until", metavar="YYYY-MM-DD", help="Sessions started on or before this day.")
        parser.add_argument("--session", metavar="KEY", help="Only the session with this key.")
        parser.add_argument("--format", choices=FORMATS, default="json", dest="fmt",
                            help="json: one array; jsonl: one session per line; csv: one message per row "
                                 "(UTF-8 with BOM for Excel). Default: json.")
        parser.add_argument("--output", metavar="PATH", default="-", help="File to write; '-' for stdout (default).")
        parser.add_argument("--batch-size", type=int, default=200, help="Sessions loaded per query (default 200).")
        parser.add_argument("--operator", metavar="USERNAME",
                            help="Your staff account, recorded in the transcript audit log beside the host "
                                 "login this runs under (which is recorded always).")

    def handle(self, *args: Any, product: str | None, since: str | None, until: str | None, session: str | None,
               fmt: str, output: str, batch_size: int, operator: str | None, **options: Any) -> None:
        since_day = _day(since) if since else None
        until_day = _day(until) if until else None
        if since_day and until_day and since_day > until_day:
            raise CommandError("--since must not be after --until.")
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1.")
        staff = _staff(operator) if operator else None
        if session is not None:
            found = ChatSession.objects.filter(key=session).values_list("product", flat=True).first()
            if found is None:
                raise CommandError(f"No session with key {session!r}.")
            if product and found != product:
                raise CommandError(f"Session {session!r} is a {found} session, not {product}.")
        sessions = sessions_for_export(product=product, since=since_day, until=until_day, key=session)
        total = sessions.count()
        show = options.get("verbosity", 1) >= 1
        progress = ProgressBar(self.stderr, total=total, label="Exporting sessions", every=batch_size, enabled=show)
        with self._target(output) as write:
            exported = self._write(sessions.iterator(chunk_size=batch_size), fmt=fmt, write=write,
                                   batch_size=batch_size, progress=progress,
                                   audit=functools.partial(transcript_accesses_record, staff=staff, operator=_login(),
                                                           kind=TranscriptAccess.Kind.EXPORT_COMMAND))
        progress.finish()
        if show:
            where = "stdout" if output == "-" else output
            self.stderr.write(f"Exported {exported} session(s) as {fmt} to {where}.")

    def _write(self, sessions: Iterator[ChatSession], *, fmt: str, write: Callable[[str], object], batch_size: int,
               progress: ProgressBar, audit: Callable[..., int]) -> int:
        pending: list[int] = []
        exported = 0
        if fmt == "json":
            write("[")
        elif fmt == "csv":
            write(csv_text([], header=True, bom=True))
        for session in sessions:
            if fmt == "json":
                write(("," if exported else "") + "\n" + transcript_json(session, indent=None))
            elif fmt == "jsonl":
                write(transcript_json(session, indent=None) + "\n")
            else:
                write(csv_text(transcript_csv_rows(session), header=False, bom=False))
            exported += 1
            pending.append(session.pk)
            if len(pending) >= batch_size:
                audit(session_ids=pending)
                pending = []
            progress.advance()
        if fmt == "json":
            write("\n]\n")
        audit(session_ids=pending)
        return exported

    @contextmanager
    def _target(self, output: str) -> Iterator[Callable[[str], object]]:
        if output == "-":
            yield lambda text: self.stdout.write(text, ending="")
            return
        path = Path(output)
        if path.is_dir():
            raise CommandError(f"--output {output!r} is a directory; give a file path.")
        if not path.parent.is_dir():
            raise CommandError(f"Directory {str(path.parent)!r} does not exist.")
        # Written beside the target and renamed at the end, so a failed run never leaves
        # a truncated export where a complete one is expected. mkstemp creates it 0600:
        # transcripts are personal data.
        fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
                yield handle.write
            os.replace(temp, path)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise
