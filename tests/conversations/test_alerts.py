"""On-call alerts: channels, their failures, and alerts a dead process never sent."""

from __future__ import annotations

from io import StringIO
from typing import Any

import pytest
from django.core import mail
from django.core.management import call_command

from conversations.alerts import alert_send, crisis_alert
from conversations.models import ChatSession, Message, Role, ScreeningDecision
from conversations.safety import Assessment, Level
from conversations.screening import screening_record
from conversations.services import guest_key
from tests.webhook import WebhookReceiver


@pytest.fixture
def decision(make_user: Any, settings: Any) -> ScreeningDecision:
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.CRISIS_ALERT_EMAILS = ["oncall@example.org"]
    settings.CRISIS_ALERT_WEBHOOK_URL = ""
    session = ChatSession.objects.create(key="sess_alert", product="counseling", user=make_user())
    message = Message.objects.create(session=session, role=Role.USER,
                                     text="유서를 써 놨어요 제 번호는 010-1234-5678이에요 오늘이 마지막이에요 정말로요 안녕히")
    return screening_record(session=session, message=message,
                            assessment=Assessment(level=Level.PREPARATION, evidence=("preparation.note",)))


def test_the_alert_carries_a_masked_preview_only(decision: ScreeningDecision) -> None:
    received = []
    crisis_alert.connect(lambda sender, alert, **kw: received.append(alert), weak=False, dispatch_uid="t1")
    try:
        assert alert_send(decision_id=decision.pk) == 1  # e-mail; the webhook has no URL
    finally:
        crisis_alert.disconnect(dispatch_uid="t1")
    (alert,) = received
    assert "010-1234-5678" not in alert.preview and len(alert.preview) <= 50
    assert "010-1234-5678" not in mail.outbox[0].body
    decision.refresh_from_db()
    assert decision.alerted_at is not None


def test_a_failing_channel_leaves_the_others_and_an_undelivered_alert_is_retried(
        decision: ScreeningDecision, settings: Any) -> None:
    settings.CRISIS_ALERT_EMAILS = []
    settings.CRISIS_ALERT_WEBHOOK_URL = "http://127.0.0.1:9/refused"
    assert alert_send(decision_id=decision.pk) == 0
    decision.refresh_from_db()
    assert decision.alerted_at is None  # nothing delivered: still pending

    with WebhookReceiver() as receiver:
        settings.CRISIS_ALERT_WEBHOOK_URL = receiver.url
        out = StringIO()
        call_command("send_pending_alerts", "--after", "0", stdout=out, stderr=StringIO())
        (body,) = receiver.wait()
    assert "Sent 1 pending alert" in out.getvalue()
    assert body["decision_id"] == decision.pk and body["level"] == "preparation"
    decision.refresh_from_db()
    assert decision.alerted_at is not None
    out = StringIO()
    call_command("send_pending_alerts", "--after", "0", "--dry-run", stdout=out)
    assert "0 alert(s) pending" in out.getvalue()


def _again(decision: ScreeningDecision, level: Level, *, session: ChatSession | None = None) -> ScreeningDecision:
    session = session or decision.session
    message = Message.objects.create(session=session, role=Role.USER, text="오늘 밤에 할 거예요")
    return screening_record(session=session, message=message, assessment=Assessment(level=level, evidence=("x",)))


def test_one_person_repeating_urgent_messages_is_one_alert_until_it_is_reviewed_or_worse(
        decision: ScreeningDecision, make_user: Any) -> None:
    assert alert_send(decision_id=decision.pk) == 1
    repeated = _again(decision, Level.METHOD)
    assert alert_send(decision_id=repeated.pk) == 0  # on-call already has this person
    # The same account in another session of its own is the same person.
    other_session = ChatSession.objects.create(key="sess_alert2", product="maice", user=decision.session.user)
    assert alert_send(decision_id=_again(decision, Level.PREPARATION, session=other_session).pk) == 0
    assert len(mail.outbox) == 1
    decision.refresh_from_db()
    repeated.refresh_from_db()
    assert repeated.alerted_at == decision.alerted_at  # not pending: send_pending_alerts leaves it
    out = StringIO()
    call_command("send_pending_alerts", "--after", "0", "--dry-run", stdout=out)
    assert "0 alert(s) pending" in out.getvalue()

    assert alert_send(decision_id=_again(decision, Level.SELF_HARM).pk) == 1  # worse than what on-call was told
    ScreeningDecision.objects.filter(session__user=decision.session.user).update(reviewed_at=decision.created_at)
    assert alert_send(decision_id=_again(decision, Level.PLAN).pk) == 1  # reviewed: a new episode
    stranger = ChatSession.objects.create(key="sess_alert3", product="counseling", user=make_user())
    assert alert_send(decision_id=_again(decision, Level.PLAN, session=stranger).pk) == 1
    assert len(mail.outbox) == 4


def test_repeat_alerts_can_be_turned_on(decision: ScreeningDecision, settings: Any) -> None:
    settings.CRISIS_ALERT_REPEAT_AFTER = 0
    assert alert_send(decision_id=decision.pk) == 1
    assert alert_send(decision_id=_again(decision, Level.METHOD).pk) == 1
    assert len(mail.outbox) == 2


def test_a_guest_opening_a_session_per_message_is_one_alert(decision: ScreeningDecision) -> None:
    # A guest who sends each message without its session gets a new session each time; the
    # sessions keep a hash of the address, and on-call is told once.
    def guest_message(key: str, address: str) -> ScreeningDecision:
        session = ChatSession.objects.create(key=key, product="customs", guest_key=guest_key(address=address))
        return _again(decision, Level.PREPARATION, session=session)

    first = guest_message("g1", "203.0.113.7")
    assert alert_send(decision_id=first.pk) == 1
    assert alert_send(decision_id=guest_message("g2", "203.0.113.7").pk) == 0
    assert alert_send(decision_id=guest_message("g3", "198.51.100.2").pk) == 1  # another address
    assert len(mail.outbox) == 2
    assert not ChatSession.objects.filter(guest_key__contains="203").exists()  # never the address itself
    ScreeningDecision.objects.filter(session__key__in=["g1", "g2"]).update(reviewed_at=first.created_at)
    assert alert_send(decision_id=guest_message("g4", "203.0.113.7").pk) == 1  # reviewed: a new episode
