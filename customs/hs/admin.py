"""Admin: the nomenclature and examples (editable; edits rebuild the index) and the
classification results (read-only, filtered by stage and code)."""

from __future__ import annotations

import json

from django.contrib import admin
from django.http import HttpRequest
from django.utils.html import format_html

from conversations.admin_audit import AccessLoggedAdmin
from customs.hs.models import HSClassification, HSCode, HSProductExample, HSSection


@admin.register(HSSection)
class HSSectionAdmin(admin.ModelAdmin):
    list_display = ("roman", "title_en", "position")
    search_fields = ("roman", "title_en")


@admin.register(HSCode)
class HSCodeAdmin(admin.ModelAdmin):
    list_display = ("code", "level", "section", "title_ko", "title_en")
    list_filter = ("level", "section")
    search_fields = ("code", "title_en", "title_ko")
    list_per_page = 100


@admin.register(HSProductExample)
class HSProductExampleAdmin(admin.ModelAdmin):
    list_display = ("hsk_code", "name")
    search_fields = ("hsk_code", "name")
    raw_id_fields = ("subheading",)
    readonly_fields = ("digest",)


class HSCodePrefixFilter(admin.SimpleListFilter):
    """Results by chapter (the first two digits of the code)."""

    title = "류 (HS 2단위)"
    parameter_name = "chapter"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        chapters = (HSClassification.objects.exclude(hscode="").values_list("hscode", flat=True).distinct())
        return [(c, f"제{c}류") for c in sorted({code[:2] for code in chapters})]

    def queryset(self, request: HttpRequest, queryset):  # type: ignore[no-untyped-def]
        value = self.value()
        return queryset.filter(hscode__startswith=value) if value else queryset


@admin.register(HSClassification)
class HSClassificationAdmin(AccessLoggedAdmin, admin.ModelAdmin):
    list_display = ("created_at", "session", "stage", "response_type", "hscode", "confidence", "model",
                    "processing_time_ms")
    list_filter = ("stage", "response_type", HSCodePrefixFilter, "model", "created_at")
    search_fields = ("hscode", "session__key")
    date_hierarchy = "created_at"
    list_select_related = ("session",)
    fields = ("session", "message", "stage", "response_type", "hscode", "confidence", "model",
              "processing_time_ms", "created_at", "description", "pretty_body")
    readonly_fields = fields

    @admin.display(description="응답 JSON")
    def pretty_body(self, obj: HSClassification) -> str:
        return format_html("<pre style='white-space:pre-wrap'>{}</pre>",
                           json.dumps(obj.body, ensure_ascii=False, indent=2))

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: HSClassification | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: HSClassification | None = None) -> bool:
        return False  # a record of what a user was told, like every other review record
