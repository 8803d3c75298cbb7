"""Writes of the shared chat domain."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any, cast

from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import Case, F, Field, Value, When
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.crypto import salted_hmac

from conversations.errors import SessionEnded, SessionNotFound
from conversations.llm.base import Usage
from conversations.models import (
    ApiToken,
    ChatSession,
    Flag,
    Message,
    MessageStatus,
    ReviewState,
    Role,
    SessionStatus,
)
from conversations.selectors import token_digest

TOKEN_PREFIX = "ct_"


def token_issue(*, user: User, name: str = "") -> tuple[ApiToken, str]:
    """Create a token; the raw value is returned once and never stored."""
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(user=user, name=name, prefix=raw[:10], digest=token_digest(raw))
    return token, raw


def token_revoke(*, token: ApiToken) -> None:
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])


def guest_key(*, address: str) -> str:
    """What a guest's sessions keep of the client address: a keyed hash, not reversible
    without the secret key, the same for every session that address opens."""
    return salted_hmac("conversations.guest-address", address).hexdigest()[:32]


def _session_touch(*, session: ChatSession, ended_ok: bool) -> bool:
    """Bump the session's last activity unless it has ended (or ``ended_ok``); False if it
    had (or is gone)."""
    rows = ChatSession.objects.filter(pk=session.pk)
    if not ended_ok:
        rows = rows.exclude(status=SessionStatus.ENDED)
    return bool(rows.update(last_activity_at=timezone.now()))


def message_append(
    *,
    session: ChatSession,
    role: Role,
    text: str,
    status: MessageStatus = MessageStatus.COMPLETE,
    emotion: str | None = None,
    client_msg_id: str | None = None,
    client_timestamp: int | None = None,
    reply_to: Message | None = None,
    model: str = "",
    flags: list[str] | None = None,
    flag_detail: str = "",
    ttfc_ms: int | None = None,
    total_ms: int | None = None,
    usage: Usage | None = None,
    ended_ok: bool = False,
) -> Message:
    """Store one message; a user message needs an open session (else ``SessionEnded``),
    unless ``ended_ok``: a message at risk is kept (and shown to counselors) even then.

    A reply written whole (a JSON answer, a clarifying question) stores its timing and the
    provider's token usage here, as a streamed one does when it is finalized.
    """
    flags = list(flags or [])
    if role == Role.USER:
        # Retention counts from the user's last word; an ended session takes no more.
        # One conditional UPDATE is both the check and the bump.
        if not _session_touch(session=session, ended_ok=ended_ok):
            raise SessionEnded() if ChatSession.objects.filter(pk=session.pk).exists() else SessionNotFound()
    message = Message.objects.create(
        session=session,
        role=role,
        text=text,
        status=status,
        emotion=emotion,
        client_msg_id=client_msg_id,
        client_timestamp=client_timestamp,
        reply_to=reply_to,
        model=(usage.model if usage is not None and usage.model else model),
        flags=flags,
        flagged=bool(flags),
        flag_detail=flag_detail[:200],
        ttfc_ms=ttfc_ms,
        total_ms=total_ms,
        prompt_tokens=usage.prompt_tokens if usage is not None else None,
        completion_tokens=usage.completion_tokens if usage is not None else None,
        completed_at=None if status == MessageStatus.STREAMING else timezone.now(),
    )
    if flags:
        session_flag(session=session)
    return message


def session_flag(*, session: ChatSession) -> None:
    """Put the session in front of counselors again. The earlier review is cleared (its
    ModerationAction keeps who and when): a session waiting for review names no reviewer."""
    ChatSession.objects.filter(pk=session.pk).update(flagged=True, review_state=ReviewState.UNREVIEWED,
                                                     reviewed_by=None, reviewed_at=None)
    session.flagged, session.review_state = True, ReviewState.UNREVIEWED
    session.reviewed_by, session.reviewed_at = None, None


def message_usage_add(*, message_id: int, usage: Usage) -> None:
    """Add a side call's tokens to a message's (a classifier's about the user's message, a
    summary's to the answer it sums up): the quality page counts tokens per message."""
    Message.objects.filter(pk=message_id).update(
        prompt_tokens=Coalesce(F("prompt_tokens"), 0) + (usage.prompt_tokens or 0),
        completion_tokens=Coalesce(F("completion_tokens"), 0) + (usage.completion_tokens or 0))


def message_finalize(
    *,
    message_id: int,
    status: MessageStatus,
    text: str,
    blocked_text: str | None = None,
    flag_detail: str = "",
    error_code: str = "",
    usage: Usage | None = None,
    ttfc_ms: int | None = None,
    total_ms: int | None = None,
) -> bool:
    """Move a streaming reply to its one final state; later calls change nothing (False).

    One conditional UPDATE: the end of every reply pays it, and only a row still
    ``streaming`` changes.
    """
    fields: dict[str, Any] = {"status": status, "text": text, "error_code": error_code, "ttfc_ms": ttfc_ms,
                              "total_ms": total_ms, "completed_at": timezone.now()}
    if usage is not None:
        fields.update(prompt_tokens=usage.prompt_tokens, completion_tokens=usage.completion_tokens)
        if usage.model:
            fields["model"] = usage.model
    if status == MessageStatus.BLOCKED:
        # Every reply starts without flags (``message_append``), so the blocked flag is all there is.
        fields.update(blocked_text=blocked_text, flags=[Flag.OUTPUT_BLOCKED], flagged=True,
                      flag_detail=flag_detail[:200])
    with transaction.atomic():
        settled = bool(Message.objects.filter(pk=message_id, status=MessageStatus.STREAMING).update(**fields))
        if settled and status == MessageStatus.BLOCKED:
            session = ChatSession.objects.filter(messages__pk=message_id).first()
            if session is not None:
                session_flag(session=session)
    return settled


def messages_progress(*, texts: dict[int, str]) -> int:
    """Save streaming replies' text so far (message id -> text), in one statement: what a
    crash would otherwise lose. Rows no longer ``streaming`` are left as they are."""
    if not texts:
        return 0
    field = cast("Field[Any, Any]", Message._meta.get_field("text"))  # (its prep encrypts the values)
    return Message.objects.filter(pk__in=list(texts), status=MessageStatus.STREAMING).update(
        text=Case(*(When(pk=pk, then=Value(text, output_field=field)) for pk, text in texts.items()),
                  output_field=field))


def messages_settle_abandoned(
    *, message_ids: list[int] | None = None, created_before: datetime | None = None, keep: set[int] | None = None
) -> int:
    """Settle replies a dead process left ``streaming`` as ``interrupted``, keeping their saved text.

    Either the given ids, or every streaming row created before ``created_before``
    except ``keep`` (replies live processes still hold). Returns how many were settled.
    """
    if message_ids is None and created_before is None:
        raise ValueError("name the replies to settle, or an age")
    rows = Message.objects.filter(status=MessageStatus.STREAMING)
    if message_ids is not None:
        rows = rows.filter(pk__in=message_ids)
    if created_before is not None:
        rows = rows.filter(created_at__lt=created_before)
    if keep:
        rows = rows.exclude(pk__in=keep)
    return rows.update(status=MessageStatus.INTERRUPTED, completed_at=timezone.now())
