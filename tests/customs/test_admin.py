"""Customs in the admin: the sessions list filters, shipments and links editable."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from conversations.models import ChatSession, Message, Product, Role, TranscriptAccess
from customs.hs.models import HSClassification
from customs.models import CargoType, IntentRecord, Shipment

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(make_user: Any) -> Client:
    client = Client()
    client.force_login(make_user("boss", is_staff=True, is_superuser=True))
    return client


def _session(key: str, intent: str, stage: str | None = None, code: str = "") -> ChatSession:
    session = ChatSession.objects.create(key=key, product=Product.CUSTOMS, state={"hs_stage": stage} if stage else {})
    asked = Message.objects.create(session=session, role=Role.USER, text="질문")
    IntentRecord.objects.create(session=session, message=asked, intent=intent, confidence=0.9, method="rules")
    if code:
        HSClassification.objects.create(session=session, stage="classification", response_type="classification_result",
                                        hscode=code, body={})
    return session


def test_sessions_filter_by_intent_stage_and_code(staff: Client) -> None:
    _session("aaaaaaaa-0000-0000-0000-000000000001", "cargo_tracking")
    _session("aaaaaaaa-0000-0000-0000-000000000002", "hscode_classification", "classification", "8517.13.0000")
    ChatSession.objects.create(key="sess_counseling", product=Product.COUNSELING)
    url = reverse("admin:customs_customssession_changelist")
    page = staff.get(url).content.decode()
    assert "000000000001" in page and "000000000002" in page and "sess_counseling" not in page
    for query, present, absent in (("intent=cargo_tracking", "0001", "0002"),
                                   ("hs_stage=classification", "0002", "0001"),
                                   ("hs_stage=none", "0001", "0002"),
                                   ("hs_chapter=85", "0002", "0001")):
        page = staff.get(f"{url}?{query}").content.decode()
        assert f"00000000{present}" in page and f"00000000{absent}" not in page, query
    assert "8517.13.0000" in staff.get(url).content.decode()


def test_shipments_are_editable_with_their_events(staff: Client) -> None:
    response = staff.post(reverse("admin:customs_shipment_add"), {
        "cargo_number": "csqu 305438 3", "cargo_type": CargoType.CONTAINER, "progress_status": "반입완료",
        "events-TOTAL_FORMS": "1", "events-INITIAL_FORMS": "0", "events-MIN_NUM_FORMS": "0",
        "events-MAX_NUM_FORMS": "1000", "events-0-occurred_at_0": "2026-01-05", "events-0-occurred_at_1": "10:00:00",
        "events-0-kind": "반입신고", "events-0-place": "부산신항",
    })
    assert response.status_code == 302, response.content.decode()[:2000]
    shipment = Shipment.objects.get()
    assert shipment.cargo_number == "CSQU3054383" and shipment.events.get().kind == "반입신고"


def test_intent_records_and_links_are_listed(staff: Client) -> None:
    _session("aaaaaaaa-0000-0000-0000-000000000003", "news_inquiry")
    assert "무역 뉴스" in staff.get(reverse("admin:customs_intentrecord_changelist")).content.decode()
    assert staff.get(reverse("admin:customs_detaillink_changelist")).status_code == 200


def test_an_intent_records_entities_are_shown_with_an_audit_entry(staff: Client) -> None:
    session = _session("aaaaaaaa-0000-0000-0000-000000000004", "hscode_classification")
    record = IntentRecord.objects.get(session=session)
    record.entities = {"product": "무선 이어폰"}
    record.save()
    staff.get(reverse("admin:customs_intentrecord_changelist"))  # the list shows no user words: not logged
    assert not TranscriptAccess.objects.filter(session=session).exists()
    page = staff.get(reverse("admin:customs_intentrecord_change", args=[record.pk])).content.decode()
    assert "무선 이어폰" in page
    assert list(TranscriptAccess.objects.filter(session=session).values_list("kind", flat=True)) == ["view"]
