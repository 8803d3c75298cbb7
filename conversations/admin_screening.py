"""The crisis-screening queue in admin: every decision, urgent first, unreviewed on top."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html

from conversations import moderation
from conversations.admin_audit import AccessLoggedAdmin
from conversations.auth import request_user
from conversations.models import ScreeningDecision
from conversations.pii import preview
from conversations.safety import Level
from conversations.screening import level_of, screening_review

LEVEL_LABELS = {level.value: level.label for level in Level}


class PendingFilter(admin.SimpleListFilter):
    title = "검토"
    parameter_name = "pending"
    default = "yes"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("yes", "검토 대기"), ("all", "전체")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if (self.value() or self.default) == "yes":
            return queryset.filter(reviewed_at__isnull=True)
        return queryset

    def choices(self, changelist: Any) -> Any:
        for lookup, title in self.lookup_choices:
            yield {"selected": (self.value() or self.default) == lookup,
                   "query_string": changelist.get_query_string({self.parameter_name: lookup}), "display": title}


class LevelFilter(admin.SimpleListFilter):
    title = "단계"
    parameter_name = "level"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return list(LEVEL_LABELS.items())

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        return queryset.filter(level=self.value()) if self.value() else queryset


@admin.register(ScreeningDecision)
class ScreeningDecisionAdmin(AccessLoggedAdmin, admin.ModelAdmin):
    list_display = ("level_label", "urgent", "source", "session_link", "evidence", "message_preview", "created_at",
                    "alerted_at", "reviewed_at")
    list_filter = (PendingFilter, LevelFilter, "urgent", "source")
    list_select_related = ("session", "message")
    ordering = ("-rank", "-created_at")
    actions = ("mark_reviewed",)

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_review_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("conversations.change_message")

    @admin.display(description="단계", ordering="rank")
    def level_label(self, obj: ScreeningDecision) -> str:
        level = level_of(obj)
        return format_html('<strong class="crisis-level" data-level="{}">{}</strong>', level.value, level.label)

    @admin.display(description="세션")
    def session_link(self, obj: ScreeningDecision) -> str:
        url = reverse("admin:conversations_chatsession_change", args=[obj.session_id])
        anchor = f"#message-{obj.message_id}" if obj.message_id else ""
        return format_html('<a href="{}{}">{}</a>', url, anchor, obj.session.key)

    @admin.display(description="미리보기")
    def message_preview(self, obj: ScreeningDecision) -> str:
        return preview(obj.message.content if obj.message else "", 50)

    @admin.action(description="선택한 기록을 검토 완료로 표시", permissions=["review"])
    def mark_reviewed(self, request: HttpRequest, queryset: QuerySet[ScreeningDecision]) -> None:
        actor = request_user(request)
        done = 0
        for decision in queryset.select_related("message"):
            if decision.reviewed_at is not None:
                continue
            # Through the message where there is one: the review is recorded with who and when.
            if decision.message is not None:
                moderation.message_review(message=decision.message, actor=actor)
            screening_review(decision=decision, actor=actor)  # a no-op when the message's review did it
            done += 1
        self.message_user(request, f"기록 {done}개를 검토 완료로 표시했습니다.", messages.SUCCESS)
