"""Moderation services: each change and its ModerationAction are one unit of work."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from uuid import uuid4

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.utils import timezone

from conversations import moderation
from conversations.models import (
    ChatSession,
    CounselorNote,
    Flag,
    Message,
    ModerationAction,
    Product,
    ReviewState,
    Role,
    TranscriptAccess,
)
from conversations.safety import Assessment, Level
from conversations.screening import screening_escalate
from conversations.services import message_append

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(make_user: Any) -> Any:
    return make_user("counselor", is_staff=True)


@pytest.fixture
def session(user: Any) -> ChatSession:
    return ChatSession.objects.create(key=f"sess_{uuid4().hex[:12]}", product=Product.COUNSELING, user=user)


@pytest.fixture
def flagged(session: ChatSession) -> Message:
    return message_append(session=session, role=Role.USER, text="죽고 싶어요", flags=[Flag.CRISIS],
                          flag_detail="crisis keyword")


def _actions(**filters: Any) -> list[tuple[str, int, int | None]]:
    return list(ModerationAction.objects.filter(**filters).values_list("kind", "actor_id", "message_id"))


def test_hide_and_unhide_change_the_message_and_record_who(flagged: Message, staff: Any) -> None:
    assert moderation.message_hide(message=flagged, actor=staff) is True
    assert Message.objects.get(pk=flagged.pk).hidden is True
    assert moderation.message_unhide(message=flagged, actor=staff) is True
    assert Message.objects.get(pk=flagged.pk).hidden is False
    assert sorted(_actions(session=flagged.session)) == [
        ("hide", staff.pk, flagged.pk), ("unhide", staff.pk, flagged.pk)
    ]


def test_hiding_twice_changes_nothing_and_records_nothing_more(flagged: Message, staff: Any) -> None:
    moderation.message_hide(message=flagged, actor=staff)
    assert moderation.message_hide(message=flagged, actor=staff) is False
    assert ModerationAction.objects.filter(kind="hide").count() == 1


def test_a_failed_record_rolls_the_change_back(flagged: Message, staff: Any, monkeypatch: Any) -> None:
    def broken(**kwargs: Any) -> None:
        raise RuntimeError("audit table unavailable")

    monkeypatch.setattr(ModerationAction.objects, "create", broken)
    with pytest.raises(RuntimeError):
        moderation.message_hide(message=flagged, actor=staff)
    assert Message.objects.get(pk=flagged.pk).hidden is False


def test_reviewing_a_message_takes_it_out_of_the_queue_once(flagged: Message, staff: Any) -> None:
    assert moderation.message_review(message=flagged, actor=staff) is True
    first = Message.objects.get(pk=flagged.pk).reviewed_at
    assert first is not None
    assert moderation.message_review(message=flagged, actor=staff) is False
    assert Message.objects.get(pk=flagged.pk).reviewed_at == first
    assert _actions() == [("review_message", staff.pk, flagged.pk)]


def test_session_review_sets_reviewer_and_clears_its_pending_messages(
    session: ChatSession, flagged: Message, staff: Any
) -> None:
    quiet = message_append(session=session, role=Role.USER, text="고마워요")
    idle_since = timezone.now() - timedelta(days=3)
    ChatSession.objects.filter(pk=session.pk).update(last_activity_at=idle_since)

    seen = moderation.ReviewSeen(message_id=quiet.pk, decision_id=0)
    assert moderation.session_review(session=session, actor=staff, seen=seen) == moderation.ReviewOutcome.REVIEWED

    stored = ChatSession.objects.get(pk=session.pk)
    assert (stored.review_state, stored.reviewed_by_id) == (ReviewState.REVIEWED, staff.pk)
    assert stored.reviewed_at is not None
    # Reviewing is staff work, not user activity: retention must not restart.
    assert stored.last_activity_at == idle_since
    assert Message.objects.get(pk=flagged.pk).reviewed_at == stored.reviewed_at
    assert Message.objects.get(pk=quiet.pk).reviewed_at is None
    assert _actions() == [("review_session", staff.pk, None)]
    assert moderation.session_review(session=session, actor=staff, seen=seen) == moderation.ReviewOutcome.ALREADY
    assert ModerationAction.objects.count() == 1


def test_a_new_flag_reopens_a_reviewed_session(session: ChatSession, flagged: Message, staff: Any) -> None:
    moderation.session_review(session=session, actor=staff, seen=None)
    message_append(session=session, role=Role.USER, text="또 힘들어요", flags=[Flag.CRISIS])
    reopened = ChatSession.objects.get(pk=session.pk)
    # Waiting for review again: no reviewer is named beside "not reviewed" (the action log keeps it).
    assert reopened.review_state == ReviewState.UNREVIEWED
    assert (reopened.reviewed_by, reopened.reviewed_at) == (None, None)
    assert _actions() == [("review_session", staff.pk, None)]


def test_an_escalated_message_returns_to_the_queue_after_an_earlier_review(
        session: ChatSession, staff: Any) -> None:
    asked = message_append(session=session, role=Role.USER, text="멍청한 팀장", flags=[Flag.INPUT_FILTERED])
    moderation.message_review(message=asked, actor=staff)
    screening_escalate(session=session, asked_id=asked.pk, reply_id=None, source="llm", replace_with=None,
                       assessment=Assessment(level=Level.PLAN, evidence=("llm",)))
    again = Message.objects.get(pk=asked.pk)
    assert Flag.CRISIS in again.flags and again.reviewed_at is None


def test_note_add_stores_encrypted_text_and_records_a_note_action(session: ChatSession, staff: Any) -> None:
    note = moderation.note_add(session=session, author=staff, text="  다음 회기에 수면 패턴 확인  ")
    assert CounselorNote.objects.get(pk=note.pk).text == "다음 회기에 수면 패턴 확인"
    with connection.cursor() as cursor:
        cursor.execute("SELECT text FROM conversations_counselornote WHERE id = %s", [note.pk])
        raw = cursor.fetchone()[0]
    assert "수면" not in raw
    assert _actions() == [("note", staff.pk, None)]


@pytest.mark.parametrize("text", ["", "   ", "가" * (moderation.NOTE_MAX_CHARS + 1)])
def test_note_add_rejects_empty_and_overlong_text(session: ChatSession, staff: Any, text: str) -> None:
    with pytest.raises(ValidationError) as error:
        moderation.note_add(session=session, author=staff, text=text)
    assert "메모" in error.value.messages[0]
    assert not CounselorNote.objects.exists()
    assert not ModerationAction.objects.exists()


def test_transcript_access_rows(session: ChatSession, staff: Any) -> None:
    moderation.transcript_access_record(session=session, staff=staff, kind=TranscriptAccess.Kind.VIEW, ip="10.0.0.5")
    recorded = moderation.transcript_accesses_record(session_ids=[session.pk],
                                                     kind=TranscriptAccess.Kind.EXPORT_COMMAND)
    assert recorded == 1
    rows = set(TranscriptAccess.objects.values_list("staff_id", "kind", "ip"))
    assert rows == {(staff.pk, "view", "10.0.0.5"), (None, "export_command", None)}


def test_a_review_clears_only_what_the_reviewer_saw(session: ChatSession, flagged: Message, staff: Any) -> None:
    from conversations.screening import screening_record

    seen = moderation.ReviewSeen(message_id=flagged.pk, decision_id=0)
    # While the transcript is open the user writes again, and it is urgent.
    later = message_append(session=session, role=Role.USER, text="오늘 밤에 할 거예요", flags=[Flag.CRISIS])
    decision = screening_record(session=session, message=later, assessment=Assessment(level=Level.PLAN))
    assert moderation.session_review(session=session, actor=staff, seen=seen) == moderation.ReviewOutcome.NEWER
    assert Message.objects.filter(reviewed_at__isnull=False).count() == 0
    assert ChatSession.objects.get(pk=session.pk).review_state != ReviewState.REVIEWED
    # From a list nobody read the transcript: an urgent decision keeps the session waiting.
    assert moderation.session_review(session=session, actor=staff, seen=None) == moderation.ReviewOutcome.URGENT
    assert ModerationAction.objects.count() == 0

    seen = moderation.ReviewSeen(message_id=later.pk, decision_id=decision.pk)
    assert moderation.session_review(session=session, actor=staff, seen=seen) == moderation.ReviewOutcome.REVIEWED
    decision.refresh_from_db()
    assert decision.reviewed_at is not None and Message.objects.filter(reviewed_at__isnull=True, flagged=True).count() == 0


def test_an_escalation_of_a_message_already_on_the_page_is_newer_too(session: ChatSession, flagged: Message,
                                                                     staff: Any) -> None:
    seen = moderation.ReviewSeen(message_id=flagged.pk, decision_id=0)
    screening_escalate(session=session, asked_id=flagged.pk, reply_id=None, source="llm", replace_with=None,
                       assessment=Assessment(level=Level.PLAN, evidence=("llm",)))
    assert moderation.session_review(session=session, actor=staff, seen=seen) == moderation.ReviewOutcome.NEWER
