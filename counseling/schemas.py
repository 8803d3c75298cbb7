from __future__ import annotations

from datetime import datetime
from typing import Any

from ninja import Field, Schema

from conversations.models import ChatSession


class SessionStartIn(Schema):
    counselorId: str | None = Field(default=None, max_length=64)  # noqa: N815 - frontend's field name


def epoch_ms(value: datetime | None) -> int | None:
    """The frontend's timestamps: milliseconds since the epoch."""
    return int(value.timestamp() * 1000) if value else None


def session_data(session: ChatSession) -> dict[str, Any]:
    """A session as REST responses and WebSocket lifecycle replies describe it.

    The first four fields in the order ``counseling.md`` gives for session start.
    """
    return {
        "sessionId": session.key,
        "wsUrls": {"session": f"/ws/session/{session.key}"},
        "startedAt": epoch_ms(session.started_at),
        "status": session.status,
        "counselorId": session.counselor_id or None,
        "pausedAt": epoch_ms(session.paused_at),
        "resumedAt": epoch_ms(session.resumed_at),
        "endedAt": epoch_ms(session.ended_at),
    }
