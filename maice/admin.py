"""MAICE in the staff admin: the shared session list gains MAICE filters, the transcript
page shows each question's classification, clarifications, answer and summary, and a
list of questions serves teachers and researchers (filters by knowledge code, quality,
mode). Reading a question opens its session's transcript, where the view is audit-logged.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import Exists, OuterRef, QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.html import format_html

from conversations.admin import ChatSessionAdmin, ReadOnlyAdmin
from conversations.admin_audit import AccessLoggedAdmin
from maice.models import KnowledgeCode, MaiceQuestion, Mode, Quality


class _QuestionFieldFilter(admin.SimpleListFilter):
    """Sessions with at least one question whose ``field`` has the chosen value."""

    field = ""
    choices_of: Any = None

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(value, str(label)) for value, label in self.choices_of.choices]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = self.value()
        if value not in self.choices_of.values:
            return queryset
        if queryset.model is MaiceQuestion:
            return queryset.filter(**{self.field: value})
        return queryset.filter(Exists(MaiceQuestion.objects.filter(session=OuterRef("pk"), **{self.field: value})))


class KnowledgeCodeFilter(_QuestionFieldFilter):
    title = "MAICE 지식 유형"
    parameter_name = "maice_code"
    field = "knowledge_code"
    choices_of = KnowledgeCode


class QualityFilter(_QuestionFieldFilter):
    title = "MAICE 질문 품질"
    parameter_name = "maice_quality"
    field = "quality"
    choices_of = Quality


class ModeFilter(_QuestionFieldFilter):
    title = "MAICE 모드"
    parameter_name = "maice_mode"
    field = "mode"
    choices_of = Mode


# MAICE sessions are reviewed in the shared session list, so its filters gain MAICE's.
ChatSessionAdmin.list_filter = (*ChatSessionAdmin.list_filter, KnowledgeCodeFilter, QualityFilter,  # type: ignore[assignment]
                                ModeFilter)


@admin.register(MaiceQuestion)
class MaiceQuestionAdmin(AccessLoggedAdmin, ReadOnlyAdmin):
    # The titles are written from the students' questions: the list is a preview of them.
    # A question's own page is its session's transcript, which logs the view.
    log_detail_views = False
    list_display = ("created_at", "session_link", "session_user", "mode", "knowledge_code", "quality", "status",
                    "answer_type", "rounds", "title", "classified_by")
    list_filter = (KnowledgeCodeFilter, QualityFilter, ModeFilter, "status", "answer_type", "classified_by")
    list_select_related = ("session", "session__user")
    # The title is encrypted: SQL can neither search nor sort it.
    search_fields = ("session__key", "session__user__username")
    sortable_by = tuple(name for name in list_display if name != "title")
    date_hierarchy = "created_at"
    ordering = ("-created_at", "-id")

    def get_queryset(self, request: HttpRequest) -> QuerySet[MaiceQuestion]:
        from django.db.models import Count

        return super().get_queryset(request).annotate(round_count=Count("clarifications"))

    @admin.display(description="세션", ordering="session__id")
    def session_link(self, obj: MaiceQuestion) -> str:
        url = reverse("admin:conversations_chatsession_change", args=[obj.session_id])
        return format_html('<a href="{}#maice-question-{}">{}</a>', url, obj.pk, obj.session_id)

    @admin.display(description="사용자")
    def session_user(self, obj: MaiceQuestion) -> str:
        return obj.session.user.get_username() if obj.session.user else "-"

    @admin.display(description="명료화 횟수", ordering="round_count")
    def rounds(self, obj: MaiceQuestion) -> int:
        return obj.round_count  # type: ignore[attr-defined]

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "",
                    extra_context: dict[str, Any] | None = None) -> HttpResponse:
        # A question is read in its session's transcript, which audit-logs the view.
        if not self.has_view_permission(request):
            raise Http404
        session_id = MaiceQuestion.objects.filter(pk=object_id).values_list("session_id", flat=True).first() \
            if object_id.isdigit() else None
        if session_id is None:
            raise Http404
        url = reverse("admin:conversations_chatsession_change", args=[session_id])
        return HttpResponseRedirect(f"{url}#maice-question-{object_id}")
