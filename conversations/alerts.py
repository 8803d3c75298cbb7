"""On-call alerts for urgent screening decisions.

``alert_dispatch(decision_id=…)`` returns at once: the ``crisis_alert`` signal is sent on a
small background pool, so a slow mail server or webhook never delays or fails the user's
reply. Every configured notifier (``CRISIS_ALERT_NOTIFIERS``) receives a ``CrisisAlert``;
one that raises is logged and the others still run. The admin banner needs no notifier:
it lists urgent decisions nobody has reviewed, straight from the database. A person
already alerted on (their session, or their account) within ``CRISIS_ALERT_REPEAT_AFTER``
at the same level or higher, not yet reviewed, is not alerted on again; a guest is known by
their sessions' hashed address.

Alerts never carry the message: only its level, the session and a masked 50-character
preview.
"""

from __future__ import annotations

import json
import logging
import urllib.request
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import asdict, dataclass
from datetime import timedelta

from django.conf import settings
from django.core.mail import send_mail
from django.db import close_old_connections
from django.db.models import Q
from django.dispatch import Signal
from django.urls import reverse
from django.utils import timezone
from django.utils.module_loading import import_string

from conversations.aio import LazyThreadPool
from conversations.models import ScreeningDecision
from conversations.pii import preview
from conversations.screening import level_of

logger = logging.getLogger(__name__)

# Sent with ``alert=CrisisAlert``.
crisis_alert = Signal()


@dataclass(frozen=True)
class CrisisAlert:
    decision_id: int
    session_id: int
    level: str
    label: str
    source: str
    admin_path: str
    preview: str  # masked, at most 50 characters
    created_at: str


# A notifier returns False when it had nowhere to send (no URL, no recipients).
Notifier = Callable[[CrisisAlert], bool | None]

_alert_threads = LazyThreadPool("crisis-alert", lambda: 2)


def alert_build(decision: ScreeningDecision) -> CrisisAlert:
    message = decision.message
    level = level_of(decision)
    return CrisisAlert(
        decision_id=decision.pk,
        session_id=decision.session_id,
        level=level.value,
        label=level.label,
        source=decision.source,
        admin_path=reverse("admin:conversations_chatsession_change", args=[decision.session_id]),
        preview=preview(message.content if message else "", 50),
        created_at=decision.created_at.isoformat(),
    )


def alert_send(*, decision_id: int) -> int:
    """Send the signal for one decision (sync); returns how many channels delivered it.

    The decision counts as alerted once one channel has delivered it; else
    ``send_pending_alerts`` tries again.
    """
    decision = ScreeningDecision.objects.select_related("message", "session").get(pk=decision_id)
    earlier = _alert_covering(decision)
    if earlier is not None:
        # Marked alerted at the earlier alert's time, so the window never slides forward
        # on alerts that were not sent.
        ScreeningDecision.objects.filter(pk=decision_id).update(alerted_at=earlier.alerted_at)
        logger.warning("crisis alert: decision=%s level=%s session=%s covered by decision=%s", decision_id,
                       decision.level, decision.session_id, earlier.pk)
        return 0
    alert = alert_build(decision)
    delivered = 0
    for _receiver, result in crisis_alert.send_robust(sender=ScreeningDecision, alert=alert):
        if isinstance(result, Exception):
            logger.error("crisis alert receiver failed: decision=%s error=%r", decision_id, result)
        elif isinstance(result, int):
            delivered += result
    if delivered:
        ScreeningDecision.objects.filter(pk=decision_id).update(alerted_at=timezone.now())
    logger.warning("crisis alert: decision=%s level=%s session=%s channels=%d", decision_id, alert.level,
                   alert.session_id, delivered)
    return delivered


def _alert_covering(decision: ScreeningDecision) -> ScreeningDecision | None:
    """An alert on-call already has for this person: sent within CRISIS_ALERT_REPEAT_AFTER, at
    this level or higher, and not yet reviewed. One urgent message after another (or a user
    repeating crisis words, which no rate limit stops) is one alert, not an alert each."""
    window = settings.CRISIS_ALERT_REPEAT_AFTER
    if not window:
        return None
    person = Q(session_id=decision.session_id)
    if decision.session.user_id is not None:
        person |= Q(session__user_id=decision.session.user_id)
    elif decision.session.guest_key:
        # A guest who sends each message without its session gets a new session each time.
        person |= Q(session__user__isnull=True, session__guest_key=decision.session.guest_key)
    return (ScreeningDecision.objects.filter(person, urgent=True, rank__gte=decision.rank, reviewed_at__isnull=True,
                                             alerted_at__gte=timezone.now() - timedelta(seconds=window))
            .exclude(pk=decision.pk).order_by("alerted_at").first())


def _send_in_thread(decision_id: int) -> int:
    close_old_connections()
    try:
        return alert_send(decision_id=decision_id)
    finally:
        close_old_connections()  # with CONN_MAX_AGE=0: back to the pool


def alert_dispatch(*, decision_id: int) -> Future[int]:
    """Queue the alert and return at once; failures are logged, never raised to the caller."""
    future = _alert_threads.get().submit(_send_in_thread, decision_id)
    future.add_done_callback(_log_failure)
    return future


def _log_failure(future: Future[int]) -> None:
    if not future.cancelled() and future.exception() is not None:
        logger.error("crisis alert failed: %r", future.exception())


def _notify(sender: object, alert: CrisisAlert, **kwargs: object) -> int:
    """Every configured notifier in turn; one that fails is logged and the others still run."""
    delivered = 0
    for path in settings.CRISIS_ALERT_NOTIFIERS:
        try:
            notifier: Notifier = import_string(path)
            if notifier(alert) is not False:
                delivered += 1
        except Exception as exc:  # noqa: BLE001 - one channel down must not silence the others
            logger.error("crisis alert channel failed: %s error=%r", path, exc)
    return delivered


def notifiers_connect() -> None:
    crisis_alert.connect(_notify, sender=ScreeningDecision, dispatch_uid="conversations.alerts.notify")


# --- default notifiers ----------------------------------------------------------------------


def email_notify(alert: CrisisAlert) -> bool:
    """E-mail through Django's mail backend to CRISIS_ALERT_EMAILS (else ADMINS)."""
    recipients = list(settings.CRISIS_ALERT_EMAILS) or [admin[1] for admin in settings.ADMINS]
    if not recipients:
        logger.warning("crisis alert: no e-mail recipients configured (CRISIS_ALERT_EMAILS)")
        return False
    body = (
        f"긴급 위기 신호가 감지되었습니다.\n\n"
        f"단계: {alert.label} ({alert.level})\n"
        f"판단: {alert.source}\n"
        f"세션: {alert.admin_path}\n"
        f"미리보기(마스킹): {alert.preview}\n"
        f"시각: {alert.created_at}\n\n"
        f"관리 화면에서 대화를 바로 확인해 주세요."
    )
    send_mail(f"[긴급] 상담 위기 신호: {alert.label}", body, settings.DEFAULT_FROM_EMAIL, recipients)
    return True


def webhook_notify(alert: CrisisAlert) -> bool:
    """POST the alert as JSON to CRISIS_ALERT_WEBHOOK_URL (nothing when unset)."""
    url = settings.CRISIS_ALERT_WEBHOOK_URL
    if not url:
        return False
    payload = json.dumps({"event": "crisis_alert", **asdict(alert)}, ensure_ascii=False).encode()
    request = urllib.request.Request(url, data=payload, method="POST",
                                     headers={"Content-Type": "application/json; charset=utf-8"})
    # No proxy: an on-call webhook on the local network must not go out through one.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(request, timeout=settings.CRISIS_ALERT_WEBHOOK_TIMEOUT) as response:
        if response.status >= 300:
            raise RuntimeError(f"webhook answered {response.status}")
    return True
