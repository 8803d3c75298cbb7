"""Reads of the shared chat domain."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from typing import Any, cast

from django.contrib.auth.models import User
from django.db import connection
from django.db.models import QuerySet
from django.utils import timezone
from encrypted_fields.fields import EncryptedTextField

from conversations.errors import SessionNotFound
from conversations.llm.base import ChatMessage
from conversations.models import ApiToken, ChatSession, Message, MessageStatus, Product


def token_digest(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


_TOKEN_USE_RESOLUTION = timedelta(minutes=1)


def token_user_get(*, raw: str) -> User | None:
    """The active user owning the raw token, or None (revoked, unknown, inactive user)."""
    if not raw or len(raw) > 200:
        return None
    token = (
        ApiToken.objects.select_related("user")
        .filter(digest=token_digest(raw), revoked_at__isnull=True, user__is_active=True)
        .first()
    )
    if token is None:
        return None
    # Kept current so staff can tell unused tokens apart before revoking them; to the
    # minute, so a busy client does not write a row on every request.
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at >= _TOKEN_USE_RESOLUTION:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token.user


def session_get_owned(*, key: str, user: User, product: Product) -> ChatSession:
    """The caller's session. Unknown and foreign sessions raise the same error."""
    session = ChatSession.objects.filter(key=key, product=product, user_id=user.pk).first()
    if session is None:
        raise SessionNotFound()
    return session


def session_messages(*, session: ChatSession, include_hidden: bool = True) -> QuerySet[Message]:
    """The transcript in order (``Message.Meta.ordering``); served from a prefetch if any."""
    messages = session.messages.all()
    return messages if include_hidden else messages.filter(hidden=False)


_HISTORY_SQL = f"""
    SELECT role, text FROM {Message._meta.db_table}
    WHERE session_id = %s AND id < %s AND NOT hidden AND text IS NOT NULL
      AND NOT (role = 'assistant' AND status IN (%s, %s, %s))
    ORDER BY created_at DESC, id DESC
    LIMIT %s
"""
_TEXT_FIELD = cast(EncryptedTextField, Message._meta.get_field("text"))
_HIDDEN_REPLIES = (MessageStatus.FAILED.value, MessageStatus.BLOCKED.value, MessageStatus.STREAMING.value)


def encrypted_read(field: EncryptedTextField, value: Any) -> str:
    """An encrypted column as plain SQL returns it, decrypted ("" for NULL)."""
    return field.from_db_value(value, None, connection) or ""


def message_text_read(value: Any) -> str:
    """``Message.text`` as plain SQL returns it, decrypted."""
    return encrypted_read(_TEXT_FIELD, value)


def history_window(*, session: ChatSession, limit: int, before_id: int | None = None) -> list[ChatMessage]:
    """The last ``limit`` messages usable as LLM context, oldest first.

    Hidden messages and replies that carry no text the model should see (failed or
    blocked ones, streaming ones, empty partials) are left out.
    """
    # Plain SQL: this read sits on every request's path to the first token, and the
    # ORM spent five times the query's own cost building it (0.6 of 0.7 ms).
    params: list[int | str] = [session.pk, before_id if before_id is not None else 2**62, *_HIDDEN_REPLIES, limit]
    with connection.cursor() as cursor:
        cursor.execute(_HISTORY_SQL, params)
        rows = cursor.fetchall()
    return [ChatMessage(role, message_text_read(value)) for role, value in reversed(rows)]
