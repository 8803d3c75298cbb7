"""The counselors' and moderators' admin: transcripts, the moderation queue, audit logs,
exports and the response-quality page.

Transcripts are read-only here. Every change goes through conversations.moderation,
which records who did what, and every staff view or export of a transcript is logged.
"""

from __future__ import annotations

import re
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, Exists, F, IntegerField, Max, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.views.decorators.http import require_POST

from conversations import moderation
from conversations.admin_audit import AccessLoggedAdmin, client_ip
from conversations.auth import request_user
from conversations.forms import AdminLoginForm
from conversations.models import (
    ApiToken,
    ChatSession,
    Flag,
    Message,
    ModerationAction,
    Product,
    ScreeningDecision,
    TranscriptAccess,
)
from conversations.pii import preview
from conversations.reports import quality_report, quality_sections, transcript_csv, transcript_json
from conversations.selectors import session_messages
from conversations.services import token_revoke

admin.site.site_header = "상담·학습·무역 AI 관리"
admin.site.login_form = AdminLoginForm
admin.site.site_title = "상담·학습·무역 AI 관리"
admin.site.index_template = "admin/conversations/index.html"

# The counseling frontend's vocabulary (the seed's five plus its face model's three).
EMOTION_LABELS = {
    "anxious": "불안", "sad": "슬픔", "angry": "분노", "happy": "기쁨", "neutral": "평온",
    "fearful": "두려움", "disgusted": "혐오", "surprised": "놀람",
}
FLAG_LABELS = {value: str(label) for value, label in Flag.choices}
QUALITY_DAYS_DEFAULT, QUALITY_DAYS_MAX = 14, 90


def _maice_questions(session: ChatSession) -> list[dict[str, Any]]:
    if session.product != Product.MAICE:
        return []
    from maice.reports import maice_transcript

    return maice_transcript(session)


def _posted_id(request: HttpRequest, name: str) -> int:
    """An id the form posted back; 0 (nothing seen) when it is missing or malformed."""
    try:
        return max(int(request.POST.get(name, "")), 0)
    except ValueError:
        return 0


def _session_link(session_id: int, label: str) -> str:
    url = reverse("admin:conversations_chatsession_change", args=[session_id])
    return format_html('<a href="{}">{}</a>', url, label)


class ReadOnlyAdmin(admin.ModelAdmin):
    """Records nobody may add, edit or delete here, superusers included."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


# --- Filters ------------------------------------------------------------------------------


class EmotionFilter(admin.SimpleListFilter):
    title = "감정"
    parameter_name = "emotion"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return list(EMOTION_LABELS.items())

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if not self.value():
            return queryset
        # EXISTS rather than a join: a join repeats a session once per matching message.
        return queryset.filter(Exists(Message.objects.filter(session=OuterRef("pk"), emotion=self.value())))


class ModerationQueueFilter(admin.SimpleListFilter):
    """Opens on the queue itself: flagged messages nobody has reviewed yet."""

    title = "검토 대기열"
    parameter_name = "queue"
    default = "pending"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("pending", "검토 대기 (플래그, 미검토)"), ("flagged", "플래그된 메시지 전체"), ("all", "모든 메시지")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        choice = self.value() or self.default
        if choice == "pending":
            return queryset.filter(flagged=True, reviewed_at__isnull=True)
        if choice == "flagged":
            return queryset.filter(flagged=True)
        return queryset

    def choices(self, changelist: Any) -> Any:
        for lookup, title in self.lookup_choices:
            yield {
                "selected": (self.value() or self.default) == lookup,
                "query_string": changelist.get_query_string({self.parameter_name: lookup}),
                "display": title,
            }


class FlagFilter(admin.SimpleListFilter):
    title = "플래그 종류"
    parameter_name = "flag"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return list(FLAG_LABELS.items())

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.value() not in FLAG_LABELS:
            return queryset
        # Matches the quoted JSON string, so works on SQLite (no JSON containment there).
        return queryset.filter(flags__icontains=f'"{self.value()}"')


# --- Sessions (transcript review) -----------------------------------------------------------


class NoteForm(forms.Form):
    text = forms.CharField(label="메모", max_length=moderation.NOTE_MAX_CHARS,
                           widget=forms.Textarea(attrs={"rows": 3, "cols": 80}))


class TranscriptStaffAdmin(ReadOnlyAdmin):
    """What counselors may do to sessions and messages, shared by both lists."""

    def has_moderate_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("conversations.change_message")

    def has_review_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("conversations.change_chatsession")

    def _review_sessions(self, request: HttpRequest, sessions: QuerySet[ChatSession]) -> None:
        outcomes = [moderation.session_review(session=session, actor=request_user(request), seen=None)
                    for session in sessions]
        done = outcomes.count(moderation.ReviewOutcome.REVIEWED)
        self.message_user(request, f"세션 {done}개를 검토 완료로 표시했습니다.", messages.SUCCESS)
        if urgent := outcomes.count(moderation.ReviewOutcome.URGENT):
            self.message_user(request, f"긴급 위기 신호가 검토를 기다리는 세션 {urgent}개는 표시하지 않았습니다. "
                                       "대화 기록 화면에서 읽고 검토해 주세요.", messages.WARNING)


@admin.register(ChatSession)
class ChatSessionAdmin(TranscriptStaffAdmin):
    change_form_template = "admin/conversations/chatsession/change_form.html"
    change_list_template = "admin/conversations/chatsession/change_list.html"
    # No title column: MAICE's are written from the students' questions (the question list
    # shows them, audit-logged).
    list_display = ("key", "product", "user_sessions", "status", "started_at", "message_count", "flagged",
                    "review_state", "reviewed_by")
    # By user: the user column links to their sessions, and the search takes usernames (a
    # sidebar list of every user with a session would not scale).
    list_filter = ("product", EmotionFilter, "flagged", "review_state", "status")
    date_hierarchy = "started_at"
    search_fields = ("key", "user__username")
    fields = ("key", "product", "user", "title", "status", "counselor_id", "started_at", "paused_at",
              "resumed_at", "ended_at", "last_activity_at", "flagged", "review_state", "reviewed_by",
              "reviewed_at")
    actions = ("mark_reviewed",)

    def get_queryset(self, request: HttpRequest) -> QuerySet[ChatSession]:
        # A subquery, not Count(): a GROUP BY would fight the date hierarchy's dates() query.
        count = (Message.objects.filter(session=OuterRef("pk")).order_by().values("session")
                 .annotate(n=Count("pk")).values("n"))
        return (super().get_queryset(request).select_related("user", "reviewed_by")
                .annotate(message_count=Coalesce(Subquery(count, output_field=IntegerField()), 0)))

    @admin.display(description="사용자", ordering="user__username")
    def user_sessions(self, obj: ChatSession) -> str:
        url = reverse("admin:conversations_chatsession_changelist")
        if obj.user is not None:
            return format_html('<a href="{}?user__id__exact={}">{}</a>', url, obj.user.pk, obj.user.get_username())
        if obj.guest_key:
            # A guest's sessions from the same address: one person may open one per message.
            return format_html('<a href="{}?guest_key={}">게스트</a>', url, obj.guest_key)
        return "-"

    @admin.display(description="메시지 수", ordering="message_count")
    def message_count(self, obj: ChatSession) -> int:
        return obj.message_count  # type: ignore[attr-defined]

    @admin.action(description="선택한 세션을 검토 완료로 표시", permissions=["review"])
    def mark_reviewed(self, request: HttpRequest, queryset: QuerySet[ChatSession]) -> None:
        self._review_sessions(request, queryset)

    # The transcript page. Rendering it is the one place a transcript is shown, so it is
    # also where the view is audit-logged (GET only: POSTs never reach it, the form is read-only).
    def render_change_form(self, request: HttpRequest, context: dict[str, Any], add: bool = False,
                           change: bool = False, form_url: str = "", obj: ChatSession | None = None) -> Any:
        if obj is not None:
            moderation.transcript_access_record(session=obj, staff=request_user(request),
                                                kind=TranscriptAccess.Kind.VIEW, ip=client_ip(request))
            context.update(self._transcript_context(request, obj))
        return super().render_change_form(request, context, add, change, form_url, obj)

    def _transcript_context(self, request: HttpRequest, session: ChatSession) -> dict[str, Any]:
        transcript = list(session_messages(session=session, include_hidden=True))
        for message in transcript:
            message.flag_labels = [FLAG_LABELS.get(flag, flag) for flag in message.flags or []]  # type: ignore[attr-defined]
            message.emotion_label = EMOTION_LABELS.get(message.emotion or "", message.emotion)  # type: ignore[attr-defined]
        return {
            "transcript": transcript,
            "notes": list(session.notes.select_related("author")),
            "moderation_actions": list(session.moderation_actions.select_related("actor")[:100]),
            "note_form": NoteForm(),
            "can_moderate": self.has_moderate_permission(request),
            "can_review": self.has_review_permission(request),
            "can_note": request.user.has_perm("conversations.add_counselornote"),
            "maice_questions": _maice_questions(session),
            # What the review button vouches for (moderation.session_review).
            "seen_message": max((m.pk for m in transcript), default=0),
            "seen_decision": session.screenings.aggregate(last=Max("pk"))["last"] or 0,
        }

    def get_urls(self) -> list[URLPattern]:
        wrap = self.admin_site.admin_view
        custom = [
            path("quality/", wrap(self.quality_view), name="conversations_quality"),
            path("<int:object_id>/export/<str:fmt>/", wrap(self.export_view),
                 name="conversations_chatsession_export"),
            path("<int:object_id>/note/", wrap(require_POST(self.note_view)), name="conversations_chatsession_note"),
            path("<int:object_id>/review/", wrap(require_POST(self.review_view)),
                 name="conversations_chatsession_review"),
            path("<int:object_id>/messages/<int:message_id>/<str:op>/", wrap(require_POST(self.moderate_view)),
                 name="conversations_chatsession_moderate"),
        ]
        return custom + super().get_urls()

    def _session(self, request: HttpRequest, object_id: int) -> ChatSession:
        session = self.get_object(request, str(object_id))
        if session is None:
            raise Http404("세션을 찾을 수 없습니다.")
        if not self.has_view_permission(request, session):
            raise PermissionDenied
        return session

    def _back(self, session: ChatSession, anchor: str = "") -> HttpResponseRedirect:
        url = reverse("admin:conversations_chatsession_change", args=[session.pk])
        return HttpResponseRedirect(url + (f"#{anchor}" if anchor else ""))

    def export_view(self, request: HttpRequest, object_id: int, fmt: str) -> HttpResponse:
        if fmt not in ("json", "csv"):
            raise Http404("지원하지 않는 형식입니다.")
        session = self._session(request, object_id)
        if fmt == "json":
            body, content_type, kind = transcript_json(session), "application/json", TranscriptAccess.Kind.EXPORT_JSON
        else:
            body, content_type, kind = transcript_csv(session), "text/csv", TranscriptAccess.Kind.EXPORT_CSV
        moderation.transcript_access_record(session=session, staff=request_user(request), kind=kind,
                                            ip=client_ip(request))
        response = HttpResponse(body.encode("utf-8"), content_type=f"{content_type}; charset=utf-8")
        safe_key = re.sub(r"[^A-Za-z0-9_.-]", "_", session.key)
        response["Content-Disposition"] = f'attachment; filename="transcript-{safe_key}.{fmt}"'
        return response

    def note_view(self, request: HttpRequest, object_id: int) -> HttpResponse:
        session = self._session(request, object_id)
        if not request.user.has_perm("conversations.add_counselornote"):
            raise PermissionDenied
        form = NoteForm(request.POST)
        try:
            if not form.is_valid():
                raise ValidationError(list(form.errors["text"]))
            moderation.note_add(session=session, author=request_user(request), text=form.cleaned_data["text"])
        except ValidationError as error:
            self.message_user(request, " ".join(error.messages), messages.ERROR)
        else:
            self.message_user(request, "메모를 추가했습니다.", messages.SUCCESS)
        return self._back(session, "notes")

    def review_view(self, request: HttpRequest, object_id: int) -> HttpResponse:
        session = self._session(request, object_id)
        if not self.has_review_permission(request):
            raise PermissionDenied
        seen = moderation.ReviewSeen(message_id=_posted_id(request, "seen_message"),
                                     decision_id=_posted_id(request, "seen_decision"))
        outcome = moderation.session_review(session=session, actor=request_user(request), seen=seen)
        if outcome == moderation.ReviewOutcome.REVIEWED:
            self.message_user(request, "세션을 검토 완료로 표시했습니다.", messages.SUCCESS)
        elif outcome == moderation.ReviewOutcome.NEWER:
            self.message_user(request, "화면을 연 뒤 새로 표시된 메시지나 위기 신호가 있어 검토 완료로 표시하지 "
                                       "않았습니다. 새 내용을 읽고 다시 눌러 주세요.", messages.WARNING)
        else:
            self.message_user(request, "이미 검토 완료된 세션입니다.", messages.INFO)
        return self._back(session)

    def moderate_view(self, request: HttpRequest, object_id: int, message_id: int, op: str) -> HttpResponse:
        services = {"hide": (moderation.message_hide, "메시지를 숨겼습니다."),
                    "unhide": (moderation.message_unhide, "메시지 숨김을 해제했습니다."),
                    "review": (moderation.message_review, "메시지를 검토 완료로 표시했습니다.")}
        if op not in services:
            raise Http404("알 수 없는 작업입니다.")
        session = self._session(request, object_id)
        if not self.has_moderate_permission(request):
            raise PermissionDenied
        message = get_object_or_404(Message, pk=message_id, session=session)
        service, done_text = services[op]
        changed = service(message=message, actor=request_user(request))
        self.message_user(request, done_text if changed else "변경된 내용이 없습니다.",
                          messages.SUCCESS if changed else messages.INFO)
        return self._back(session, f"message-{message.pk}")

    def quality_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        try:
            days = int(request.GET.get("days", QUALITY_DAYS_DEFAULT))
        except ValueError:
            days = QUALITY_DAYS_DEFAULT
        days = min(max(days, 1), QUALITY_DAYS_MAX)
        context = {
            **self.admin_site.each_context(request),
            "title": f"응답 품질 (최근 {days}일)",
            "opts": self.opts,
            "days": days,
            "day_choices": (7, 14, 30, 90),
            "time_zone": timezone.get_current_timezone_name(),
            "sections": quality_sections(quality_report(days=days)),
        }
        return TemplateResponse(request, "admin/conversations/quality.html", context)


# --- Moderation queue ---------------------------------------------------------------------------


@admin.register(Message)
class MessageAdmin(AccessLoggedAdmin, TranscriptStaffAdmin):
    log_detail_views = False  # a message opens in its session's page, which logs the view

    list_display = ("created_at", "session_link", "product", "session_user", "role", "status", "flag_list",
                    "flag_detail", "text_preview", "hidden", "reviewed_at")
    list_filter = (ModerationQueueFilter, FlagFilter, "session__product", "role", "status", "hidden")
    list_select_related = ("session", "session__user")
    search_fields = ("session__key", "session__user__username")
    ordering = ("-created_at", "-id")
    actions = ("hide", "unhide", "mark_reviewed", "mark_sessions_reviewed")

    def get_queryset(self, request: HttpRequest) -> QuerySet[Message]:
        # Urgent first: the highest screening level of each message, unscreened ones last.
        rank = (ScreeningDecision.objects.filter(message=OuterRef("pk")).order_by("-rank").values("rank")[:1])
        return super().get_queryset(request).annotate(risk_rank=Subquery(rank, output_field=IntegerField()))

    def get_ordering(self, request: HttpRequest) -> list[Any]:
        return [F("risk_rank").desc(nulls_last=True), "-created_at", "-id"]

    @admin.display(description="세션", ordering="session__key")
    def session_link(self, obj: Message) -> str:
        return _session_link(obj.session_id, obj.session.key)

    @admin.display(description="서비스", ordering="session__product")
    def product(self, obj: Message) -> str:
        return obj.session.get_product_display()

    @admin.display(description="사용자")
    def session_user(self, obj: Message) -> str:
        return obj.session.user.get_username() if obj.session.user else "-"

    @admin.display(description="플래그")
    def flag_list(self, obj: Message) -> str:
        return ", ".join(FLAG_LABELS.get(flag, flag) for flag in obj.flags or []) or "-"

    @admin.display(description="미리보기")
    def text_preview(self, obj: Message) -> str:
        return preview(obj.blocked_text or obj.content, 80)

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "",
                    extra_context: dict[str, Any] | None = None) -> HttpResponse:
        # A message is read in its conversation; the session page also audit-logs the view.
        if not self.has_view_permission(request):
            raise PermissionDenied
        if not object_id.isdigit():
            raise Http404
        # Only the session id: loading the message would decrypt its text for nothing.
        session_id = Message.objects.filter(pk=object_id).values_list("session_id", flat=True).first()
        if session_id is None:
            raise Http404
        url = reverse("admin:conversations_chatsession_change", args=[session_id])
        return HttpResponseRedirect(f"{url}#message-{object_id}")

    def _apply(self, request: HttpRequest, queryset: QuerySet[Message], service: Any, text: str) -> None:
        done = sum(service(message=message, actor=request_user(request)) for message in queryset)
        self.message_user(request, text.format(done), messages.SUCCESS)

    @admin.action(description="선택한 메시지 숨기기", permissions=["moderate"])
    def hide(self, request: HttpRequest, queryset: QuerySet[Message]) -> None:
        self._apply(request, queryset, moderation.message_hide, "메시지 {}개를 숨겼습니다.")

    @admin.action(description="선택한 메시지 숨김 해제", permissions=["moderate"])
    def unhide(self, request: HttpRequest, queryset: QuerySet[Message]) -> None:
        self._apply(request, queryset, moderation.message_unhide, "메시지 {}개의 숨김을 해제했습니다.")

    @admin.action(description="선택한 메시지를 검토 완료로 표시", permissions=["moderate"])
    def mark_reviewed(self, request: HttpRequest, queryset: QuerySet[Message]) -> None:
        self._apply(request, queryset, moderation.message_review, "메시지 {}개를 검토 완료로 표시했습니다.")

    @admin.action(description="선택한 메시지의 세션을 검토 완료로 표시", permissions=["review"])
    def mark_sessions_reviewed(self, request: HttpRequest, queryset: QuerySet[Message]) -> None:
        self._review_sessions(request, ChatSession.objects.filter(pk__in=queryset.values("session_id")))


# --- Audit records and tokens --------------------------------------------------------------------


class AuditAdmin(ReadOnlyAdmin):
    list_filter = ("kind",)
    date_hierarchy = "created_at"

    @admin.display(description="세션", ordering="session__key")
    def session_link(self, obj: ModerationAction | TranscriptAccess) -> str:
        if obj.session is None:
            return f"{obj.session_key} (삭제됨)"
        return _session_link(obj.session.pk, obj.session.key)


@admin.register(ModerationAction)
class ModerationActionAdmin(AuditAdmin):
    list_display = ("created_at", "kind", "actor", "session_link", "message_id")
    list_select_related = ("actor", "session")
    search_fields = ("session__key", "session_key", "actor__username")


@admin.register(TranscriptAccess)
class TranscriptAccessAdmin(AuditAdmin):
    list_display = ("created_at", "kind", "staff", "operator", "session_link", "ip")
    list_select_related = ("staff", "session")
    search_fields = ("session__key", "session_key", "staff__username", "operator")


@admin.register(ApiToken)
class ApiTokenAdmin(ReadOnlyAdmin):
    list_display = ("prefix", "user", "name", "created_at", "last_used_at", "revoked_at")
    list_filter = (("revoked_at", admin.EmptyFieldListFilter),)
    list_select_related = ("user",)
    search_fields = ("prefix", "user__username", "name")
    fields = ("prefix", "user", "name", "created_at", "last_used_at", "revoked_at")
    actions = ("revoke",)

    def has_revoke_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("conversations.change_apitoken")

    @admin.action(description="선택한 토큰 폐기", permissions=["revoke"])
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiToken]) -> None:
        active = list(queryset.filter(revoked_at__isnull=True))
        for token in active:
            token_revoke(token=token)
            self.log_change(request, token, "토큰 폐기")  # who and when, in the admin's history
        self.message_user(request, f"토큰 {len(active)}개를 폐기했습니다.", messages.SUCCESS)

from conversations import admin_screening  # noqa: E402,F401 - registers the crisis-screening queue
