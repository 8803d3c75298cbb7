"""Reads of the shared chat domain."""

from __future__ import annotations

import hashlib

from django.contrib.auth.models import User
from django.db.models import QuerySet
from django.utils import timezone

from conversations.errors import SessionNotFound
from conversations.llm.base import ChatMessage
from conversations.models import ApiToken, ChatSession, Message, MessageStatus, Product


def token_digest(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


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
    # Kept current so staff can tell unused tokens apart before revoking them.
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=timezone.now())
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


def history_window(*, session: ChatSession, limit: int, before_id: int | None = None) -> list[ChatMessage]:
    """The last ``limit`` messages usable as LLM context, oldest first.

    Hidden messages and replies that carry no text the model should see (failed or
    blocked ones, empty partials) are left out.
    """
    qs = session.messages.filter(hidden=False, text__isnull=False).exclude(
        role="assistant", status__in=[MessageStatus.FAILED, MessageStatus.BLOCKED, MessageStatus.STREAMING]
    )
    if before_id is not None:
        qs = qs.filter(id__lt=before_id)
    # Two columns, no model instances: this read sits on the path to the first token.
    recent = list(qs.order_by("-created_at", "-id").values_list("role", "text")[:limit])
    return [ChatMessage(role, text) for role, text in reversed(recent)]
