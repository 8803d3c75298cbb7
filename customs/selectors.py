"""Customs reads."""

from __future__ import annotations

from typing import Any

from conversations.models import ChatSession, Product
from customs.models import DetailLink, Intent

# Stages after which the next message on the session belongs to HS classification.
HS_PENDING_STAGES = frozenset({"information_gathering", "classification"})


def session_hs_pending(session: ChatSession) -> bool:
    return (session.state or {}).get("hs_stage") in HS_PENDING_STAGES


def session_find(*, key: str) -> ChatSession | None:
    return ChatSession.objects.filter(key=key, product=Product.CUSTOMS).first()


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
