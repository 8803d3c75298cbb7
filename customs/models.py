"""Customs records: intents of each user message, shipments for the database tracking
provider, and the detail pages offered beside streamed answers.

Sessions and messages are the shared ``conversations`` tables (``product="customs"``,
``key`` = the session UUID); a customs message's UUID is kept in ``client_msg_id``.
"""

from __future__ import annotations

from django.db import models

from conversations.fields import EncryptedJSONText
from conversations.models import ChatSession, Message


class Intent(models.TextChoices):
    CARGO_TRACKING = "cargo_tracking", "화물 통관 조회"
    HSCODE_CLASSIFICATION = "hscode_classification", "HS 코드 분류"
    GENERAL_CHAT = "general_chat", "일반 대화"
    NEWS_INQUIRY = "news_inquiry", "무역 뉴스"
    REGULATORY_INQUIRY = "regulatory_inquiry", "법령·규제 문의"


JSON_INTENTS = frozenset({Intent.CARGO_TRACKING, Intent.HSCODE_CLASSIFICATION})


class IntentRecord(models.Model):
    """How one user message was classified (and by what), for admin and tuning."""

    class Method(models.TextChoices):
        LLM = "llm", "LLM"
        RULES = "rules", "규칙"
        RULES_FALLBACK = "rules_fallback", "규칙 (LLM 실패)"
        HS_STAGE = "hs_stage", "HS 분류 진행 중"

    session = models.ForeignKey(ChatSession, on_delete=models.CASCADE, related_name="customs_intents")
    message = models.OneToOneField(Message, on_delete=models.CASCADE, related_name="customs_intent")
    intent = models.CharField(max_length=32, choices=Intent.choices, db_index=True)
    confidence = models.FloatField()
    method = models.CharField(max_length=16, choices=Method.choices)
    entities = EncryptedJSONText(default=dict, blank=True)  # product and topic are the user's words
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "의도 분류"
        verbose_name_plural = "의도 분류"
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.intent} ({self.confidence:.2f})"


class CargoType(models.TextChoices):
    CONTAINER = "container", "컨테이너"
    BILL_OF_LADING = "bl", "선하증권(B/L)"
    AIR_WAYBILL = "awb", "항공화물운송장(AWB)"
    CARGO_MANAGEMENT = "cargo_mgmt", "화물관리번호"
    PARCEL = "parcel", "택배 운송장"


class Shipment(models.Model):
    """A shipment the database provider answers for (edited by staff in admin)."""

    cargo_number = models.CharField(
        "화물번호", max_length=40, unique=True, help_text="대문자, 하이픈·공백 없이 (예: MSCU1234566)"
    )
    cargo_type = models.CharField("번호 종류", max_length=16, choices=CargoType.choices)
    cargo_management_number = models.CharField("화물관리번호", max_length=40, blank=True)
    bl_number = models.CharField("B/L 번호", max_length=40, blank=True)
    product_name = models.CharField("품명", max_length=200, blank=True)
    progress_status = models.CharField("진행상태", max_length=100, blank=True, help_text="예: 반출완료")
    clearance_status = models.CharField("통관진행상태", max_length=100, blank=True, help_text="예: 수입신고수리")
    carrier = models.CharField("선사/항공사", max_length=100, blank=True)
    vessel = models.CharField("선박/편명", max_length=100, blank=True)
    loading_port = models.CharField("적재항", max_length=100, blank=True)
    discharge_port = models.CharField("양륙항", max_length=100, blank=True)
    arrival_customs = models.CharField("입항세관", max_length=100, blank=True)
    arrived_on = models.DateField("입항일", null=True, blank=True)
    package_count = models.PositiveIntegerField("포장개수", null=True, blank=True)
    package_unit = models.CharField("포장단위", max_length=10, blank=True)
    weight_kg = models.DecimalField("총중량(kg)", max_digits=12, decimal_places=2, null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "화물"
        verbose_name_plural = "화물"
        ordering = ["-updated_at"]

    def __str__(self) -> str:
        return self.cargo_number

    def save(self, *args: object, **kwargs: object) -> None:
        from customs.cargo import normalize_cargo_number

        self.cargo_number = normalize_cargo_number(self.cargo_number)
        super().save(*args, **kwargs)  # type: ignore[arg-type]


class ShipmentEvent(models.Model):
    shipment = models.ForeignKey(Shipment, on_delete=models.CASCADE, related_name="events")
    occurred_at = models.DateTimeField("처리일시")
    kind = models.CharField("처리구분", max_length=100, help_text="예: 수입신고, 반입신고, 반출신고")
    place = models.CharField("장치장/장소", max_length=200, blank=True)
    detail = models.CharField("내용", max_length=300, blank=True)

    class Meta:
        verbose_name = "처리 이력"
        verbose_name_plural = "처리 이력"
        ordering = ["occurred_at", "id"]

    def __str__(self) -> str:
        return f"{self.occurred_at:%Y-%m-%d %H:%M} {self.kind}"


class DetailLink(models.Model):
    """A detail-page button offered beside streamed answers, matched by intent and keywords."""

    title = models.CharField("제목", max_length=60)
    description = models.CharField("설명", max_length=200)
    action_type = models.CharField("동작", max_length=32, help_text="예: external_link, hscode_lookup")
    url = models.CharField("주소", max_length=300)
    intents = models.JSONField("의도", default=list, blank=True, help_text="비우면 모든 의도")
    keywords = models.JSONField("키워드", default=list, blank=True, help_text="비우면 키워드 없이도 제시")
    priority = models.PositiveSmallIntegerField("우선순위", default=100, help_text="작을수록 먼저")
    active = models.BooleanField("사용", default=True)

    class Meta:
        verbose_name = "상세페이지 버튼"
        verbose_name_plural = "상세페이지 버튼"
        ordering = ["priority", "id"]

    def __str__(self) -> str:
        return self.title


class CustomsSession(ChatSession):
    """Customs sessions only, for their own admin list (filters by intent, HS stage and code)."""

    class Meta:
        proxy = True
        verbose_name = "관세 상담 세션"
        verbose_name_plural = "관세 상담 세션"
