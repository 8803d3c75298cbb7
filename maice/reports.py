"""MAICE's part of a transcript, for staff: the admin transcript page and exports."""

from __future__ import annotations

from typing import Any

from conversations.models import ChatSession
from maice import selectors
from maice.schemas import question_data


def maice_transcript(session: ChatSession) -> list[dict[str, Any]]:
    """Every question of the session with its classification, clarification rounds,
    answer (with its status and type) and summary, in order; what a moderator hid too,
    marked, as the transcript's messages are."""
    rows = []
    for question in selectors.session_questions(session=session, include_hidden=True):
        data = question_data(question, include_hidden=True)
        data["asked_message_id"] = question.asked_id
        data["answer_message_id"] = question.answer_id
        data["hidden"] = question.asked.hidden
        data["answer_hidden"] = question.answer is not None and question.answer.hidden
        data["classified_by"] = question.classified_by or None
        rows.append(data)
    return rows
