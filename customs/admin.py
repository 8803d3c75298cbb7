"""Customs in the admin: sessions by intent, HS stage and code (the transcript itself is the
shared session page, audit-logged there), intents, shipments and detail links (editable)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import Exists, OuterRef, QuerySet, Subquery
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html

from conversations.admin import ReadOnlyAdmin
from conversations.admin_audit import AccessLoggedAdmin
from conversations.models import Product
from customs.hs.models import HSClassification, Stage
from customs.models import CustomsSession, DetailLink, Intent, IntentRecord, Shipment, ShipmentEvent


class IntentFilter(admin.SimpleListFilter):
    title = "의도"
    parameter_name = "intent"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(value, str(label)) for value, label in Intent.choices]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.value() not in Intent.values:
            return queryset
        return queryset.filter(Exists(IntentRecord.objects.filter(session=OuterRef("pk"), intent=self.value())))


class HSStageFilter(admin.SimpleListFilter):
    title = "HS 분류 단계"
    parameter_name = "hs_stage"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("none", "없음"), *((value, str(label)) for value, label in Stage.choices)]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = self.value()
        if value == "none":
            return queryset.filter(state__hs_stage__isnull=True)
        if value in Stage.values:
            return queryset.filter(state__hs_stage=value)
        return queryset


class HSCodeFilter(admin.SimpleListFilter):
    """Sessions that received a code of this chapter (first two digits)."""

    title = "HS 코드 (류)"
    parameter_name = "hs_chapter"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        codes = HSClassification.objects.exclude(hscode="").values_list("hscode", flat=True).distinct()
        return [(c, f"제{c}류") for c in sorted({code[:2] for code in codes})]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        chapter = self.value()
        if not chapter:
            return queryset
        results = HSClassification.objects.filter(session=OuterRef("pk"), hscode__startswith=chapter)
        return queryset.filter(Exists(results))


@admin.register(CustomsSession)
class CustomsSessionAdmin(ReadOnlyAdmin):
    list_display = ("key", "user", "last_intent", "hs_stage", "last_hscode", "started_at", "transcript")
    list_filter = (IntentFilter, HSStageFilter, HSCodeFilter, "flagged", "started_at")
    search_fields = ("key", "user__username", "hs_results__hscode")
    date_hierarchy = "started_at"

    def get_queryset(self, request: HttpRequest) -> QuerySet[CustomsSession]:
        intents = IntentRecord.objects.filter(session=OuterRef("pk")).order_by("-id").values("intent")[:1]
        codes = (HSClassification.objects.filter(session=OuterRef("pk")).exclude(hscode="")
                 .order_by("-id").values("hscode")[:1])
        return (super().get_queryset(request).filter(product=Product.CUSTOMS).select_related("user")
                .annotate(last_intent_value=Subquery(intents), last_hscode_value=Subquery(codes)))

    @admin.display(description="마지막 의도")
    def last_intent(self, obj: CustomsSession) -> str:
        value = obj.last_intent_value  # type: ignore[attr-defined]
        return str(Intent(value).label) if value in Intent.values else "–"

    @admin.display(description="HS 단계")
    def hs_stage(self, obj: CustomsSession) -> str:
        value = (obj.state or {}).get("hs_stage")
        return str(Stage(value).label) if value in Stage.values else "–"

    @admin.display(description="마지막 HS 코드")
    def last_hscode(self, obj: CustomsSession) -> str:
        return obj.last_hscode_value or "–"  # type: ignore[attr-defined]

    @admin.display(description="대화 기록")
    def transcript(self, obj: CustomsSession) -> str:
        url = reverse("admin:conversations_chatsession_change", args=[obj.pk])
        return format_html('<a href="{}">열기</a>', url)


@admin.register(IntentRecord)
class IntentRecordAdmin(AccessLoggedAdmin, ReadOnlyAdmin):
    # The detail page shows the entities (the user's product and topic words); the list does not.
    log_list_views = False
    list_display = ("created_at", "session", "intent", "confidence", "method")
    list_filter = ("intent", "method", "created_at")
    search_fields = ("session__key",)
    list_select_related = ("session",)


class ShipmentEventInline(admin.TabularInline):
    model = ShipmentEvent
    extra = 1


@admin.register(Shipment)
class ShipmentAdmin(admin.ModelAdmin):
    list_display = ("cargo_number", "cargo_type", "bl_number", "product_name", "progress_status",
                    "clearance_status", "arrived_on", "updated_at")
    list_filter = ("cargo_type", "progress_status", "clearance_status")
    search_fields = ("cargo_number", "bl_number", "cargo_management_number", "product_name")
    inlines = (ShipmentEventInline,)


@admin.register(DetailLink)
class DetailLinkAdmin(admin.ModelAdmin):
    list_display = ("title", "action_type", "url", "priority", "active")
    list_filter = ("active", "action_type")
    list_editable = ("priority", "active")
    search_fields = ("title", "url")
