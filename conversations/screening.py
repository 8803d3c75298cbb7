"""Screening decisions: stored with their evidence, read for context, escalated by the LLM.

Writes are plain sync functions; the async reply path calls them through
``conversations.aio.run_db``.
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from conversations.models import ChatSession, Flag, Message, MessageStatus, Role, ScreeningDecision
from conversations.pii import mask_pii
from conversations.safety import Assessment, Level
from conversations.services import session_flag

SAFETY_MODEL = "safety"


def screening_record(*, session: ChatSession, message: Message | None, assessment: Assessment,
                     source: str = ScreeningDecision.Source.RULES) -> ScreeningDecision:
    """Store one decision. Matched words are masked (and encrypted) before they are kept."""
    return ScreeningDecision.objects.create(
        session=session,
        message=message,
        level=assessment.level.value,
        rank=assessment.level.rank,
        urgent=assessment.level.urgency == "urgent",
        source=source,
        evidence=",".join(assessment.evidence)[:200],
        matched=mask_pii(assessment.matched)[:500] or None,
    )


def screening_store(*, session: ChatSession, message: Message, assessment: Assessment) -> ScreeningDecision | None:
    """Record a screened user message's decision (any level but none), inside the message's
    transaction; an urgent one alerts on-call once that transaction commits (before the
    reply goes out, and never for a message rolled back)."""
    if assessment.level == Level.NONE:
        return None
    decision = screening_record(session=session, message=message, assessment=assessment, source=assessment.source)
    if decision.urgent:
        from conversations.alerts import alert_dispatch  # (alerts reads decisions through this module)

        transaction.on_commit(lambda: alert_dispatch(decision_id=decision.pk), robust=True)
    return decision


def screening_flags(assessment: Assessment) -> list[str]:
    """Flags for the user's message: a risk level is a crisis flag; moderation's other categories
    (harassment, hate, sexual, ...) mark filtered input."""
    flags: list[str] = [Flag.CRISIS] if assessment.flagged else []
    if assessment.filtered:
        flags.append(Flag.INPUT_FILTERED)
    return flags


def screening_detail(assessment: Assessment) -> str:
    parts = [f"{assessment.level.value}: {','.join(assessment.evidence)}"] if assessment.level != Level.NONE else []
    if assessment.filtered:
        parts.append(f"moderation: {','.join(assessment.filtered)}")
    return "; ".join(parts)[:200]


def user_turns_recent(*, session_id: int, limit: int) -> list[str]:
    """The session's last ``limit`` user messages, oldest first: hidden ones too (they are out
    of the model's context, but a moderator's takedown does not unsay what came before)."""
    rows = (Message.objects.filter(session_id=session_id, role=Role.USER)
            .order_by("-created_at", "-id").values_list("text", flat=True)[:limit])
    return [text or "" for text in reversed(list(rows))]


def screening_escalate(*, session: ChatSession, asked_id: int, reply_id: int | None, assessment: Assessment,
                       source: str, replace_with: str | None) -> ScreeningDecision:
    """A second opinion raised the level: store it, flag the message, and (urgent) replace the reply.

    The reply keeps what the model wrote in ``blocked_text`` for reviewers and becomes the
    fixed ``replace_with`` text, whatever state the stream left it in.
    """
    with transaction.atomic():
        asked = Message.objects.select_for_update().get(pk=asked_id)
        decision = screening_record(session=session, message=asked, assessment=assessment, source=source)
        if Flag.CRISIS not in asked.flags:
            asked.flags = [*asked.flags, Flag.CRISIS]
        asked.flagged = True
        asked.flag_detail = screening_detail(assessment)
        # Back in the moderation queue, even if it was reviewed for something lesser before.
        asked.reviewed_at = None
        asked.save(update_fields=["flags", "flagged", "flag_detail", "reviewed_at"])
        if replace_with is not None and reply_id is not None:
            reply = Message.objects.select_for_update().get(pk=reply_id)
            reply.blocked_text = reply.content or None
            reply.text = replace_with
            reply.status = MessageStatus.BLOCKED
            reply.model = SAFETY_MODEL
            reply.flags = [*[f for f in reply.flags if f != Flag.CRISIS], Flag.CRISIS]
            reply.flagged = True
            reply.flag_detail = screening_detail(assessment)
            reply.completed_at = reply.completed_at or timezone.now()
            reply.save()
        session_flag(session=session)
    return decision


def screening_review(*, decision: ScreeningDecision, actor: object) -> bool:
    """Take a decision out of the queue. False if it was reviewed before."""
    updated = ScreeningDecision.objects.filter(pk=decision.pk, reviewed_at__isnull=True).update(
        reviewed_at=timezone.now(), reviewed_by=actor)
    return updated == 1


def level_of(decision: ScreeningDecision) -> Level:
    try:
        return Level(decision.level)
    except ValueError:
        return Level.NONE
