"""Customs reads."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from conversations.errors import Busy
from conversations.models import ChatSession, Message, MessageStatus, Product, Role
from customs.hs.models import HSClassification
from customs.models import DetailLink, Intent, IntentRecord

# Stages after which the next message on the session belongs to HS classification.
HS_PENDING_STAGES = frozenset({"information_gathering", "classification"})


def session_hs_pending(session: ChatSession) -> bool:
    return (session.state or {}).get("hs_stage") in HS_PENDING_STAGES


def session_find(*, key: str) -> ChatSession | None:
    return ChatSession.objects.filter(key=key, product=Product.CUSTOMS).first()


@dataclass(frozen=True)
class EarlierTurn:
    """The turn a retried request repeats (the same ``client_msg_id`` on the session)."""

    asked: Message
    reply: Message
    intent: str
    hs_body: dict[str, Any] | None  # the HS answer's JSON, as it was sent


@dataclass(frozen=True)
class UnansweredTurn:
    """A stored message whose JSON answer was never stored: still being worked out, or its
    process died on the way (the retry answers it once the session's lease is free)."""

    asked: Message
    intent: str


def turn_earlier(*, session: ChatSession, client_msg_id: str) -> EarlierTurn | UnansweredTurn | None:
    """The turn with this ``client_msg_id``, if any; ``Busy`` while its streamed answer is
    still being written (the retry must not ask the model a second time)."""
    asked = Message.objects.filter(session=session, role=Role.USER, client_msg_id=client_msg_id).first()
    if asked is None:
        return None
    reply = Message.objects.filter(reply_to=asked, role=Role.ASSISTANT).order_by("id").first()
    intent = IntentRecord.objects.filter(message=asked).values_list("intent", flat=True).first() or ""
    if reply is None:
        return UnansweredTurn(asked=asked, intent=intent)
    if reply.status == MessageStatus.STREAMING:
        raise Busy()
    hs = HSClassification.objects.filter(message=reply).first()
    return EarlierTurn(asked=asked, reply=reply, intent=intent, hs_body=hs.body if hs is not None else None)


def detail_buttons_select(*, intent: Intent, message: str, limit: int = 4) -> list[dict[str, Any]]:
    """Detail pages for an answer: links for the intent whose keywords the message names.

    Links without keywords are general ones for their intents; keyword matches come first.
    """
    lowered = message.lower()
    matched, general = [], []
    for link in DetailLink.objects.filter(active=True):
        if link.intents and intent not in link.intents:
            continue
        if not link.keywords:
            general.append(link)
        elif any(str(word).lower() in lowered for word in link.keywords):
            matched.append(link)
    return [
        {"title": link.title, "description": link.description, "action_type": link.action_type, "url": link.url}
        for link in (matched + general)[:limit]
    ]
