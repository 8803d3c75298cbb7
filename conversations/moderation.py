"""Staff writes: moderation, review, counselor notes, the transcript audit log, retention
and re-encryption after a key rotation.

Every moderation change and the ModerationAction that records it are written in one
transaction, so the record can never disagree with the state it describes.
"""

from __future__ import annotations

import base64
import binascii
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import cast

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.apps import apps
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.db.models import Case, OuterRef, Subquery, TextField, Value, When
from django.db.models.functions import Cast
from django.utils import timezone
from encrypted_fields.fields import EncryptedFieldMixin

from conversations.models import (
    ChatSession,
    CounselorNote,
    Message,
    ModerationAction,
    ReviewState,
    ScreeningDecision,
    TranscriptAccess,
)
from conversations.reports import sessions_expired

logger = logging.getLogger(__name__)

NOTE_MAX_CHARS = 4000
Progress = Callable[[int], None]

# --- Audit log ----------------------------------------------------------------------------


def transcript_access_record(
    *, session: ChatSession, staff: User | None, kind: TranscriptAccess.Kind, ip: str | None = None
) -> TranscriptAccess:
    return TranscriptAccess.objects.create(session=session, staff=staff, kind=kind, ip=ip)


def transcript_accesses_record(
    *, session_ids: Iterable[int], kind: TranscriptAccess.Kind, staff: User | None = None, ip: str | None = None,
    operator: str = "",
) -> int:
    rows = [TranscriptAccess(session_id=pk, staff=staff, kind=kind, ip=ip, operator=operator) for pk in session_ids]
    TranscriptAccess.objects.bulk_create(rows)
    return len(rows)


# --- Moderation ---------------------------------------------------------------------------


def _record(
    *, kind: ModerationAction.Kind, actor: User, session_id: int, message: Message | None = None
) -> ModerationAction:
    action = ModerationAction.objects.create(kind=kind, actor=actor, session_id=session_id, message=message)
    logger.info("moderation %s session=%s message=%s actor=%s", kind, session_id,
                message.pk if message else None, actor.pk)
    return action


def _message_set_hidden(*, message: Message, actor: User, hidden: bool) -> bool:
    with transaction.atomic():
        locked = Message.objects.select_for_update().get(pk=message.pk)
        if locked.hidden == hidden:
            message.hidden = hidden
            return False
        locked.hidden = hidden
        locked.save(update_fields=["hidden"])
        kind = ModerationAction.Kind.HIDE if hidden else ModerationAction.Kind.UNHIDE
        _record(kind=kind, actor=actor, session_id=locked.session_id, message=locked)
    message.hidden = hidden
    return True


def message_hide(*, message: Message, actor: User) -> bool:
    """Hide a message from the user's transcript and the model's context. False if it already was."""
    return _message_set_hidden(message=message, actor=actor, hidden=True)


def message_unhide(*, message: Message, actor: User) -> bool:
    return _message_set_hidden(message=message, actor=actor, hidden=False)


def message_review(*, message: Message, actor: User) -> bool:
    """Take a message out of the moderation queue. False if it was reviewed before."""
    with transaction.atomic():
        locked = Message.objects.select_for_update().get(pk=message.pk)
        if locked.reviewed_at is not None:
            message.reviewed_at = locked.reviewed_at
            return False
        locked.reviewed_at = timezone.now()
        locked.save(update_fields=["reviewed_at"])
        # Its screening decisions leave the crisis queue (and the admin banner) with it.
        ScreeningDecision.objects.filter(message=locked, reviewed_at__isnull=True).update(
            reviewed_at=locked.reviewed_at, reviewed_by=actor)
        _record(kind=ModerationAction.Kind.REVIEW_MESSAGE, actor=actor, session_id=locked.session_id, message=locked)
    message.reviewed_at = locked.reviewed_at
    return True


@dataclass(frozen=True)
class ReviewSeen:
    """What the reviewer's transcript page showed: its last message and the session's last
    screening decision when it was rendered."""

    message_id: int
    decision_id: int


class ReviewOutcome(StrEnum):
    REVIEWED = "reviewed"
    ALREADY = "already"
    NEWER = "newer"  # something flagged since the page was rendered: not marked
    URGENT = "urgent"  # (a list action) an urgent decision waits: review it on the transcript


def session_review(*, session: ChatSession, actor: User, seen: ReviewSeen | None) -> ReviewOutcome:
    """Mark a session reviewed; its flagged messages still waiting in the queue go with it.

    A reviewer marking a session from its transcript (``seen``) has read it, so leaving its
    messages in the queue would only make someone read them again. But only what the page
    showed: a message or decision that came later (a user writes "tonight" while the page is
    open, the second opinion escalates a message) is not cleared unseen, and nothing is
    marked. From a list (``seen=None``), nobody read the transcript: a session with an
    urgent decision still waiting is left alone.
    """
    now = timezone.now()
    with transaction.atomic():
        locked = ChatSession.objects.select_for_update().get(pk=session.pk)
        if locked.review_state == ReviewState.REVIEWED:
            return ReviewOutcome.ALREADY
        waiting = ScreeningDecision.objects.filter(session=locked, reviewed_at__isnull=True)
        flagged = Message.objects.filter(session=locked, flagged=True, reviewed_at__isnull=True)
        if seen is None:
            if waiting.filter(urgent=True).exists():
                return ReviewOutcome.URGENT
        elif waiting.filter(pk__gt=seen.decision_id).exists() or flagged.filter(pk__gt=seen.message_id).exists():
            return ReviewOutcome.NEWER
        locked.review_state, locked.reviewed_by, locked.reviewed_at = ReviewState.REVIEWED, actor, now
        # update_fields leaves last_activity_at alone: review is not user activity.
        locked.save(update_fields=["review_state", "reviewed_by", "reviewed_at"])
        flagged.update(reviewed_at=now)
        waiting.update(reviewed_at=now, reviewed_by=actor)
        _record(kind=ModerationAction.Kind.REVIEW_SESSION, actor=actor, session_id=locked.pk)
    session.review_state, session.reviewed_by, session.reviewed_at = ReviewState.REVIEWED, actor, now
    return ReviewOutcome.REVIEWED


def note_add(*, session: ChatSession, author: User, text: str) -> CounselorNote:
    text = text.strip()
    if not text:
        raise ValidationError("메모 내용을 입력해 주세요.", code="empty")
    if len(text) > NOTE_MAX_CHARS:
        raise ValidationError(f"메모는 {NOTE_MAX_CHARS}자 이하로 입력해 주세요.", code="too_long")
    with transaction.atomic():
        note = CounselorNote.objects.create(session=session, author=author, text=text)
        _record(kind=ModerationAction.Kind.NOTE, actor=author, session_id=session.pk)
    return note


# --- Retention ------------------------------------------------------------------------------


AUDIT_MODELS = (ModerationAction, TranscriptAccess)


def sessions_purge(*, cutoff: datetime, batch_size: int = 500, progress: Progress | None = None) -> int:
    """Delete sessions idle since before ``cutoff`` with their messages and notes. Their audit
    rows (who read, exported or moderated them) stay, with the session's key, until
    ``audit_purge``.

    Deletes in batches so no single transaction holds locks on a whole year of data.
    """
    deleted = 0
    session_key = Subquery(ChatSession.objects.filter(pk=OuterRef("session_id")).values("key")[:1])
    while True:
        batch = list(sessions_expired(cutoff=cutoff).values_list("pk", flat=True)[:batch_size])
        if not batch:
            break
        with transaction.atomic():
            for model in AUDIT_MODELS:
                model.objects.filter(session_id__in=batch).update(session_key=session_key)
            ChatSession.objects.filter(pk__in=batch).delete()
        deleted += len(batch)
        if progress:
            progress(len(batch))
    logger.info("purged %s sessions idle since before %s", deleted, cutoff.isoformat())
    return deleted


def _audit_expired(cutoff: datetime) -> list[models.QuerySet[models.Model]]:
    return [model.objects.filter(created_at__lt=cutoff) for model in AUDIT_MODELS]


def audit_expired_count(*, cutoff: datetime) -> int:
    return sum(rows.count() for rows in _audit_expired(cutoff))


def audit_purge(*, cutoff: datetime) -> int:
    """Delete audit rows written before ``cutoff`` (the audit log's own retention)."""
    deleted = sum(rows.delete()[0] for rows in _audit_expired(cutoff))
    logger.info("purged %s audit rows written before %s", deleted, cutoff.isoformat())
    return deleted


# --- Re-encryption after a key rotation -----------------------------------------------------

def encrypted_fields() -> list[tuple[type[models.Model], tuple[str, ...]]]:
    """Every encrypted field of every installed model, by model: MAICE's improved questions
    and summaries and the HS descriptions too, so a rotation leaves nothing on the old key."""
    found = []
    for model in apps.get_models():
        names = tuple(f.name for f in model._meta.concrete_fields if isinstance(f, EncryptedFieldMixin))
        if names:
            found.append((model, names))
    return found


def encryption_keys_reset() -> None:
    """Forget the keys each encrypted field derived and cached from settings.

    The fields cache them per field instance for the life of the process; a process that
    changes SALT_KEY or SECRET_KEY while running must call this to use the new keys.
    """
    for model, names in encrypted_fields():
        for name in names:
            field = model._meta.get_field(name)
            for cached in ("keys", "f"):
                field.__dict__.pop(cached, None)


@dataclass
class ReencryptResult:
    reencrypted: int = 0
    # Rows written before encryption existed: stored as plain text, now encrypted.
    encrypted_plaintext: int = 0
    current: int = 0
    # Fernet tokens that no configured key opens: left as they are.
    undecryptable: int = 0


def encrypted_rows_count() -> int:
    return sum(model._default_manager.count() for model, _ in encrypted_fields())


def _looks_like_token(raw: str) -> bool:
    try:
        data = base64.urlsafe_b64decode(raw.encode("ascii"))
    except (binascii.Error, UnicodeEncodeError, ValueError):
        return False
    # Fernet: version byte 0x80, timestamp, 16-byte IV, ciphertext blocks, 32-byte HMAC.
    return len(data) >= 73 and data[0] == 0x80


def _rewrap(raw: str, *, primary: Fernet, everyone: MultiFernet, result: ReencryptResult) -> str | None:
    """The value encrypted with the first key, or None when it needs no write."""
    try:
        primary.decrypt(raw.encode())
        result.current += 1
        return None
    except InvalidToken:
        pass
    if not _looks_like_token(raw):
        result.encrypted_plaintext += 1
        return primary.encrypt(raw.encode()).decode()
    try:
        rotated = everyone.rotate(raw.encode()).decode()
    except InvalidToken:
        result.undecryptable += 1
        return None
    result.reencrypted += 1
    return rotated


def _reencrypt_model(
    model: type[models.Model], names: tuple[str, ...], *, batch_size: int, dry_run: bool,
    result: ReencryptResult, progress: Progress | None,
) -> None:
    # Every field derives the same keys from the same settings.
    field = cast(EncryptedFieldMixin, model._meta.get_field(names[0]))
    fernets = [Fernet(key) for key in field.keys]
    primary, everyone = fernets[0], MultiFernet(fernets)
    raw_names = {name: f"raw_{name}" for name in names}
    last_pk = 0
    while True:
        # Locked, so a reply finalised meanwhile cannot be overwritten with its old text.
        with transaction.atomic():
            rows = list(
                model._default_manager.select_for_update()
                .filter(pk__gt=last_pk)
                .order_by("pk")
                .annotate(**{raw: Cast(name, TextField()) for name, raw in raw_names.items()})
                .values_list("pk", *raw_names.values())[:batch_size]
            )
            if not rows:
                return
            last_pk = rows[-1][0]
            for position, name in enumerate(names, start=1):
                changed = []
                for row in rows:
                    raw = row[position]
                    new = _rewrap(raw, primary=primary, everyone=everyone, result=result) if raw else None
                    if new is not None:
                        changed.append((row[0], new))
                if changed and not dry_run:
                    # Plain TextField values: the encrypted field would encrypt the token again.
                    whens = [When(pk=pk, then=Value(new, output_field=TextField())) for pk, new in changed]
                    model._default_manager.filter(pk__in=[pk for pk, _ in changed]).update(
                        **{name: Case(*whens, output_field=TextField())}
                    )
        if progress:
            progress(len(rows))


def messages_reencrypt(*, batch_size: int = 500, dry_run: bool = False, progress: Progress | None = None
                       ) -> ReencryptResult:
    """Re-encrypt every encrypted value (message texts, notes, matched words, MAICE's and
    customs' user text) with the first key."""
    encryption_keys_reset()
    result = ReencryptResult()
    for model, names in encrypted_fields():
        _reencrypt_model(model, names, batch_size=batch_size, dry_run=dry_run, result=result, progress=progress)
    logger.info("reencrypt done dry_run=%s %s", dry_run, result)
    return result
