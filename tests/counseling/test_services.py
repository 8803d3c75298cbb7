from __future__ import annotations

from typing import Any

import pytest

from conversations.errors import InvalidMessage, SessionEnded
from counseling.services import reply_request_parse, session_end, session_pause, session_resume, session_start


@pytest.mark.parametrize("data", [None, [], "text", {}, {"message": ""}, {"message": " \n "}, {"message": 1},
                                  {"message": "hi", "client_msg_id": ""}, {"message": "hi", "client_msg_id": "x" * 65}])
def test_invalid_requests(data: Any) -> None:
    with pytest.raises(InvalidMessage):
        reply_request_parse(data)


def test_parse_trims_the_message() -> None:
    # The length is checked on the trimmed text after screening (tests/counseling/test_consumers.py).
    assert reply_request_parse({"message": "  " + "가" * 2001 + "  "}).message == "가" * 2001


def test_parse_keeps_valid_fields() -> None:
    parsed = reply_request_parse({"message": " 안녕 ", "emotion": "SAD", "timestamp": 1704902400000,
                                  "client_msg_id": "abc"})
    assert (parsed.message, parsed.emotion, parsed.timestamp, parsed.client_msg_id) == ("안녕", "sad", 1704902400000, "abc")
    assert reply_request_parse({"message": "a", "timestamp": True}).timestamp is None


@pytest.mark.django_db
def test_lifecycle_transitions_are_idempotent(user: Any) -> None:
    session = session_start(user=user)
    paused_at = session_pause(session=session).paused_at
    assert session_pause(session=session).paused_at == paused_at
    assert session_resume(session=session).status == "active"
    ended_at = session_end(session=session).ended_at
    assert session_end(session=session).ended_at == ended_at
    with pytest.raises(SessionEnded):
        session_pause(session=session)
