"""Counseling reads."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import User

from conversations.auth import socket_user
from conversations.errors import NotSignedIn, SessionEnded
from conversations.models import ChatSession, Message, Product, SessionStatus
from conversations.selectors import session_get_owned, session_messages


def session_get(*, key: str, user: User) -> ChatSession:
    return session_get_owned(key=key, user=user, product=Product.COUNSELING)


def session_for_socket(*, key: str, user: User) -> ChatSession:
    """The session a WebSocket may attach to: the caller's own, not ended."""
    session = session_get(key=key, user=user)
    if session.status == SessionStatus.ENDED:
        raise SessionEnded()
    return session


def socket_attach(*, scope: dict[str, Any], key: str) -> tuple[User, ChatSession]:
    """Who is connecting, and the session their socket attaches to: one trip to the database."""
    user = socket_user(scope)
    if not isinstance(user, User):
        raise NotSignedIn()
    return user, session_for_socket(key=key, user=user)


def session_history(*, session: ChatSession) -> list[Message]:
    # Users do not see messages a moderator hid.
    return list(session_messages(session=session, include_hidden=False))


def message_text(*, message_id: int) -> str:
    message = Message.objects.filter(pk=message_id).only("text").first()
    return message.content if message else ""
