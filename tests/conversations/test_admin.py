"""The staff admin through its real URLs: review, moderation queue, notes, exports, audit."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import datetime
from typing import Any
from uuid import uuid4

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from conversations.models import (
    ApiToken,
    ChatSession,
    CounselorNote,
    Flag,
    Message,
    MessageStatus,
    ModerationAction,
    Product,
    ReviewState,
    Role,
    TranscriptAccess,
)
from conversations.services import guest_key, message_append, token_issue

pytestmark = pytest.mark.django_db

SESSIONS = "/admin/conversations/chatsession/"
MESSAGES = "/admin/conversations/message/"


def _session(user: Any = None, product: str = Product.COUNSELING, **fields: Any) -> ChatSession:
    return ChatSession.objects.create(key=f"sess_{uuid4().hex[:12]}", product=product, user=user, **fields)


def _say(session: ChatSession, text: str, role: str = Role.USER, **fields: Any) -> Message:
    flags = fields.pop("flags", None)
    message = message_append(session=session, role=role, text=text, flags=flags, emotion=fields.pop("emotion", None))
    if fields:
        Message.objects.filter(pk=message.pk).update(**fields)
    return message


def _review_from_page(admin_client: Any, session: ChatSession, page: str | None = None) -> str:
    """Press the transcript page's review button, as a browser would post its form; the
    page it lands on."""
    page = page or admin_client.get(f"{SESSIONS}{session.pk}/change/").content.decode()
    seen = dict(re.findall(r'name="(seen_message|seen_decision)" value="(\d+)"', page))
    assert set(seen) == {"seen_message", "seen_decision"}
    return str(admin_client.post(f"{SESSIONS}{session.pk}/review/", seen, follow=True).content.decode())


def _keys(response: Any) -> list[str]:
    assert response.status_code == 200
    return [row.key for row in response.context["cl"].result_list]


def _grant(user: Any, *codenames: str) -> Any:
    user.user_permissions.add(*Permission.objects.filter(content_type__app_label="conversations",
                                                         codename__in=codenames))
    return type(user).objects.get(pk=user.pk)  # fresh instance: permissions are cached per object


@pytest.fixture
def viewer(make_user: Any, client: Any) -> Any:
    """A staff member who may read transcripts but change nothing."""
    staff = _grant(make_user("viewer", is_staff=True), "view_chatsession", "view_message")
    client.force_login(staff)
    return staff


@pytest.fixture
def admin_user_obj(admin_client: Any) -> Any:
    from django.contrib.auth import get_user_model

    return get_user_model().objects.get(username="admin")


# --- access ------------------------------------------------------------------------------


def test_non_staff_users_are_sent_to_the_admin_login(client: Any, user: Any) -> None:
    session = _session(user)
    client.force_login(user)
    for url in (SESSIONS, f"{SESSIONS}{session.pk}/change/", f"{SESSIONS}{session.pk}/export/json/",
                reverse("admin:conversations_quality"), MESSAGES):
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith("/admin/login/")
    assert not TranscriptAccess.objects.exists()


def test_staff_without_view_permission_gets_403_on_exports_and_quality(client: Any, make_user: Any) -> None:
    session = _session()
    client.force_login(make_user("intern", is_staff=True))
    assert client.get(f"{SESSIONS}{session.pk}/export/csv/").status_code == 403
    assert client.get(reverse("admin:conversations_quality")).status_code == 403
    assert not TranscriptAccess.objects.exists()


def test_admin_index_is_korean_and_links_the_quality_page(admin_client: Any) -> None:
    body = admin_client.get("/admin/").content.decode()
    assert "상담·학습·무역 AI 관리" in body
    assert reverse("admin:conversations_quality") in body
    app_index = admin_client.get("/admin/conversations/").content.decode()
    assert reverse("admin:conversations_quality") in app_index


# --- session list ------------------------------------------------------------------------


def test_session_list_filters_and_search(admin_client: Any, make_user: Any) -> None:
    kim, lee = make_user("kim"), make_user("lee")
    sad = _session(kim)
    _say(sad, "우울해요", emotion="sad")
    maice = _session(lee, product=Product.MAICE)
    flagged = _session(lee)
    _say(flagged, "위험", flags=[Flag.CRISIS])
    reviewed = _session(kim, review_state=ReviewState.REVIEWED)
    ChatSession.objects.filter(pk=reviewed.pk).update(started_at=timezone.make_aware(datetime(2024, 5, 2)))

    assert _keys(admin_client.get(SESSIONS, {"product__exact": "maice"})) == [maice.key]
    assert _keys(admin_client.get(SESSIONS, {"emotion": "sad"})) == [sad.key]
    assert _keys(admin_client.get(SESSIONS, {"flagged__exact": "1"})) == [flagged.key]
    assert _keys(admin_client.get(SESSIONS, {"review_state__exact": "reviewed"})) == [reviewed.key]
    assert set(_keys(admin_client.get(SESSIONS, {"user__id__exact": lee.pk}))) == {maice.key, flagged.key}
    # By user through the user column's link; no sidebar lists every user (it would not scale).
    page = admin_client.get(SESSIONS).content.decode()
    assert page.count(f'?user__id__exact={lee.pk}"') == 2  # lee's two sessions' rows
    assert set(_keys(admin_client.get(SESSIONS, {"q": "kim"}))) == {sad.key, reviewed.key}
    assert _keys(admin_client.get(SESSIONS, {"q": maice.key})) == [maice.key]
    assert _keys(admin_client.get(SESSIONS, {"started_at__year": "2024"})) == [reviewed.key]


def test_a_guests_sessions_from_one_address_are_one_link_away(admin_client: Any) -> None:
    # A guest may open a session per message; the user column links them together.
    same = [ChatSession.objects.create(key=f"guest-{n}", product=Product.CUSTOMS,
                                       guest_key=guest_key(address="203.0.113.7")) for n in range(2)]
    ChatSession.objects.create(key="guest-other", product=Product.CUSTOMS, guest_key=guest_key(address="198.51.100.2"))
    page = admin_client.get(SESSIONS).content.decode()
    assert page.count(f'?guest_key={same[0].guest_key}">게스트') == 2
    assert set(_keys(admin_client.get(SESSIONS, {"guest_key": same[0].guest_key}))) == {s.key for s in same}


def test_session_list_shows_message_counts_without_a_query_per_row(admin_client: Any, make_user: Any) -> None:
    def list_queries() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert admin_client.get(SESSIONS).status_code == 200
        return len(queries)

    for _ in range(2):
        session = _session(make_user(), reviewed_by=make_user())
        _say(session, "하나")
        _say(session, "둘")
    few = list_queries()
    for _ in range(5):
        _session(make_user(), reviewed_by=make_user())
    assert list_queries() == few
    column = admin_client.get(SESSIONS).context["cl"].list_display.index("message_count")
    response = admin_client.get(SESSIONS, {"o": f"-{column}"})  # by message count, descending
    assert [row.message_count for row in response.context["cl"].result_list][:2] == [2, 2]


@pytest.mark.parametrize("url", [MESSAGES, "/admin/conversations/moderationaction/",
                                 "/admin/conversations/transcriptaccess/", "/admin/conversations/apitoken/"])
def test_other_lists_do_not_query_per_row(admin_client: Any, admin_user_obj: Any, make_user: Any, url: str) -> None:
    def add_rows() -> None:
        session = _session(make_user())
        message = _say(session, "위기", flags=[Flag.CRISIS])
        ModerationAction.objects.create(kind="hide", actor=admin_user_obj, session=session, message=message)
        TranscriptAccess.objects.create(kind="view", staff=admin_user_obj, session=session)
        token_issue(user=session.user)

    def list_queries() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert admin_client.get(url).status_code == 200
        return len(queries)

    add_rows()
    one = list_queries()
    for _ in range(4):
        add_rows()
    assert list_queries() == one


# --- transcript page ----------------------------------------------------------------------------


def test_session_page_shows_the_whole_transcript_in_order_and_logs_the_view(
    admin_client: Any, admin_user_obj: Any, user: Any
) -> None:
    session = _session(user)
    _say(session, "첫 번째 질문입니다", emotion="anxious")
    _say(session, "첫 번째 답변입니다", role=Role.ASSISTANT, ttfc_ms=321, total_ms=4567, model="gpt-test",
         prompt_tokens=11, completion_tokens=22)
    _say(session, "숨겨진 메시지", hidden=True)
    _say(session, "안전한 대체 답변", role=Role.ASSISTANT, status=MessageStatus.BLOCKED,
         blocked_text="차단된 원래 답변", flags=[Flag.OUTPUT_BLOCKED], flagged=True)

    response = admin_client.get(f"{SESSIONS}{session.pk}/change/", REMOTE_ADDR="192.0.2.7")

    body = response.content.decode()
    assert response.status_code == 200
    in_order = ("첫 번째 질문입니다", "첫 번째 답변입니다", "숨겨진 메시지", "안전한 대체 답변")
    positions = [body.index(text) for text in in_order]
    assert positions == sorted(positions)
    for shown in ("불안", "첫 응답 321ms", "전체 4567ms", "gpt-test", "입력 11 / 출력 22", "숨김", "차단된 원래 답변",
                  "출력 차단", "차단됨"):
        assert shown in body, shown
    access = TranscriptAccess.objects.get()
    assert (access.staff_id, access.session_id, access.kind, access.ip) == (
        admin_user_obj.pk, session.pk, "view", "192.0.2.7"
    )


def test_transcripts_cannot_be_added_edited_or_deleted(admin_client: Any, user: Any) -> None:
    session = _session(user, title="원래 제목")
    message = _say(session, "원래 내용")
    assert admin_client.get(f"{SESSIONS}add/").status_code == 403
    assert admin_client.post(f"{SESSIONS}{session.pk}/change/", {"title": "바뀜"}).status_code == 403
    assert admin_client.post(f"{SESSIONS}{session.pk}/delete/", {"post": "yes"}).status_code == 403
    assert admin_client.get(f"{MESSAGES}add/").status_code == 403
    assert ChatSession.objects.get(pk=session.pk).title == "원래 제목"
    # A message's own page is its place in the conversation.
    response = admin_client.get(f"{MESSAGES}{message.pk}/change/")
    assert response.status_code == 302
    assert response["Location"] == f"{SESSIONS}{session.pk}/change/#message-{message.pk}"
    assert Message.objects.get(pk=message.pk).content == "원래 내용"


def test_transcript_page_buttons_hide_review_and_mark_the_session(
    admin_client: Any, admin_user_obj: Any, user: Any
) -> None:
    session = _session(user)
    message = _say(session, "위험한 말", flags=[Flag.CRISIS])
    base = f"{SESSIONS}{session.pk}"

    response = admin_client.post(f"{base}/messages/{message.pk}/hide/")
    assert response.status_code == 302 and response["Location"].endswith(f"#message-{message.pk}")
    admin_client.post(f"{base}/messages/{message.pk}/review/")
    _review_from_page(admin_client, session)

    message.refresh_from_db()
    session.refresh_from_db()
    assert message.hidden and message.reviewed_at is not None
    assert (session.review_state, session.reviewed_by_id) == (ReviewState.REVIEWED, admin_user_obj.pk)
    kinds = list(ModerationAction.objects.order_by("created_at", "id").values_list("kind", "actor_id"))
    assert kinds == [("hide", admin_user_obj.pk), ("review_message", admin_user_obj.pk),
                     ("review_session", admin_user_obj.pk)]
    assert admin_client.get(f"{base}/messages/{message.pk}/hide/").status_code == 405
    assert admin_client.post(f"{base}/messages/{message.pk}/delete/").status_code == 404


def test_counselor_notes_are_added_shown_and_recorded(admin_client: Any, admin_user_obj: Any, user: Any) -> None:
    session = _session(user)
    url = f"{SESSIONS}{session.pk}/note/"

    response = admin_client.post(url, {"text": "다음 회기에 수면 습관을 물어볼 것"}, follow=True)

    assert "메모를 추가했습니다." in response.content.decode()
    note = CounselorNote.objects.get()
    assert (note.author_id, note.text) == (admin_user_obj.pk, "다음 회기에 수면 습관을 물어볼 것")
    assert ModerationAction.objects.filter(kind="note", actor=admin_user_obj, session=session).count() == 1
    page = admin_client.get(f"{SESSIONS}{session.pk}/change/").content.decode()
    assert "다음 회기에 수면 습관을 물어볼 것" in page and "admin" in page

    admin_client.post(url, {"text": "   "})
    assert CounselorNote.objects.count() == 1


def test_view_only_staff_can_read_but_not_moderate(client: Any, viewer: Any, user: Any) -> None:
    session = _session(user)
    message = _say(session, "위험", flags=[Flag.CRISIS])

    page = client.get(f"{SESSIONS}{session.pk}/change/")
    assert page.status_code == 200 and "위험" in page.content.decode()
    assert "숨기기" not in page.content.decode()
    assert client.post(f"{SESSIONS}{session.pk}/messages/{message.pk}/hide/").status_code == 403
    assert client.post(f"{SESSIONS}{session.pk}/review/").status_code == 403
    assert client.post(f"{SESSIONS}{session.pk}/note/", {"text": "메모"}).status_code == 403
    client.post(MESSAGES, {"action": "hide", "_selected_action": [message.pk]})
    assert Message.objects.get(pk=message.pk).hidden is False
    assert not ModerationAction.objects.exists()


# --- moderation queue ---------------------------------------------------------------------------


def test_queue_opens_on_flagged_unreviewed_messages_newest_first(admin_client: Any, user: Any) -> None:
    session = _session(user)
    _say(session, "평범한 말")
    older = _say(session, "자해 생각", flags=[Flag.CRISIS])
    done = _say(session, "지난번 위기", flags=[Flag.CRISIS], reviewed_at=timezone.now())
    newer = _say(session, "차단된 답", role=Role.ASSISTANT, flags=[Flag.OUTPUT_BLOCKED])

    response = admin_client.get(MESSAGES)

    assert [m.pk for m in response.context["cl"].result_list] == [newer.pk, older.pk]
    body = response.content.decode()
    assert "위기 신호" in body and session.key in body
    assert len(admin_client.get(MESSAGES, {"queue": "flagged"}).context["cl"].result_list) == 3
    assert len(admin_client.get(MESSAGES, {"queue": "all"}).context["cl"].result_list) == 4
    crisis_only = admin_client.get(MESSAGES, {"queue": "flagged", "flag": "crisis"}).context["cl"].result_list
    assert {m.pk for m in crisis_only} == {older.pk, done.pk}


def test_queue_preview_masks_personal_data(admin_client: Any, user: Any) -> None:
    _say(_session(user), "제 번호는 010-1234-5678 이에요", flags=[Flag.INPUT_FILTERED])
    body = admin_client.get(MESSAGES).content.decode()
    assert "[PHONE]" in body and "010-1234-5678" not in body


def test_queue_actions_go_through_services_and_record_the_actor(
    admin_client: Any, admin_user_obj: Any, user: Any
) -> None:
    session = _session(user)
    first = _say(session, "위기 1", flags=[Flag.CRISIS])
    second = _say(session, "위기 2", flags=[Flag.CRISIS])
    selected = {"_selected_action": [first.pk, second.pk]}

    admin_client.post(MESSAGES, {"action": "hide", **selected})
    assert set(Message.objects.filter(hidden=True).values_list("pk", flat=True)) == {first.pk, second.pk}
    admin_client.post(MESSAGES, {"action": "unhide", "_selected_action": [second.pk]})
    assert Message.objects.get(pk=second.pk).hidden is False
    admin_client.post(MESSAGES, {"action": "mark_reviewed", "_selected_action": [first.pk]})
    assert Message.objects.get(pk=first.pk).reviewed_at is not None
    admin_client.post(MESSAGES, {"action": "mark_sessions_reviewed", "_selected_action": [second.pk]})

    session.refresh_from_db()
    assert session.review_state == ReviewState.REVIEWED and session.reviewed_by_id == admin_user_obj.pk
    assert Message.objects.get(pk=second.pk).reviewed_at is not None
    recorded = sorted(ModerationAction.objects.values_list("kind", "message_id"), key=str)
    assert recorded == sorted([("hide", first.pk), ("hide", second.pk), ("unhide", second.pk),
                               ("review_message", first.pk), ("review_session", None)], key=str)
    assert set(ModerationAction.objects.values_list("actor_id", flat=True)) == {admin_user_obj.pk}
    assert admin_client.get(MESSAGES).context["cl"].result_list.count() == 0


def test_session_list_action_marks_sessions_reviewed(admin_client: Any, admin_user_obj: Any, user: Any) -> None:
    one, two = _session(user), _session(user)
    admin_client.post(SESSIONS, {"action": "mark_reviewed", "_selected_action": [one.pk, two.pk]})
    assert set(ChatSession.objects.values_list("review_state", "reviewed_by_id")) == {("reviewed", admin_user_obj.pk)}
    assert ModerationAction.objects.filter(kind="review_session").count() == 2


def test_review_button_leaves_a_crisis_that_came_after_the_page_was_opened(admin_client: Any, user: Any) -> None:
    from conversations.safety import Assessment, Level
    from conversations.screening import screening_record

    session = _session(user)
    _say(session, "요즘 힘들어요", flags=[Flag.CRISIS])
    page = admin_client.get(f"{SESSIONS}{session.pk}/change/").content.decode()
    later = _say(session, "오늘 밤에 할 거예요", flags=[Flag.CRISIS])
    decision = screening_record(session=session, message=later, assessment=Assessment(level=Level.PLAN))

    landed = _review_from_page(admin_client, session, page)
    assert "새로 표시된 메시지나 위기 신호가 있어" in landed and "오늘 밤에 할 거예요" in landed
    decision.refresh_from_db()
    assert decision.reviewed_at is None and Message.objects.get(pk=later.pk).reviewed_at is None
    assert "긴급 위기 신호 1건" in admin_client.get(reverse("admin:index")).content.decode()
    assert "세션을 검토 완료로 표시했습니다." in _review_from_page(admin_client, session)  # read, then pressed again
    assert ChatSession.objects.get(pk=session.pk).review_state == ReviewState.REVIEWED


def test_session_list_action_leaves_sessions_with_an_urgent_decision_waiting(admin_client: Any, user: Any) -> None:
    from conversations.safety import Assessment, Level
    from conversations.screening import screening_record

    quiet, urgent = _session(user), _session(user)
    screening_record(session=urgent, message=_say(urgent, "약을 모았어요", flags=[Flag.CRISIS]),
                     assessment=Assessment(level=Level.PREPARATION))
    page = admin_client.post(SESSIONS, {"action": "mark_reviewed", "_selected_action": [quiet.pk, urgent.pk]},
                             follow=True).content.decode()
    assert "세션 1개를 검토 완료로 표시했습니다." in page and "세션 1개는 표시하지 않았습니다" in page
    assert dict(ChatSession.objects.values_list("pk", "review_state")) == {
        quiet.pk: ReviewState.REVIEWED, urgent.pk: ReviewState.UNREVIEWED}


# --- exports ----------------------------------------------------------------------------------


def test_json_export_downloads_the_transcript_and_is_audited(admin_client: Any, admin_user_obj: Any,
                                                              user: Any) -> None:
    session = _session(user)
    first = _say(session, "안녕하세요", emotion="happy")
    reply = _say(session, "반가워요", role=Role.ASSISTANT, ttfc_ms=80, total_ms=900, prompt_tokens=12,
                 completion_tokens=8, model="offline")
    cut = _say(session, "그러니까", role=Role.ASSISTANT, status=MessageStatus.FAILED, error_code="LLM_ERROR")
    CounselorNote.objects.create(session=session, author=admin_user_obj, text="다음 주 다시 확인")

    response = admin_client.get(f"{SESSIONS}{session.pk}/export/json/")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json; charset=utf-8"
    assert response["Content-Disposition"] == f'attachment; filename="transcript-{session.key}.json"'
    data = json.loads(response.content.decode("utf-8"))
    assert data["session"]["key"] == session.key and data["session"]["username"] == "alice"
    assert [(m["id"], m["text"]) for m in data["messages"]] == [(first.pk, "안녕하세요"), (reply.pk, "반가워요"),
                                                                (cut.pk, "그러니까")]
    assert data["messages"][1] | {"created_at": None, "completed_at": None} == {
        "id": reply.pk, "role": "assistant", "text": "반가워요", "emotion": None, "status": "complete",
        "error_code": None,
        "created_at": None, "completed_at": None, "ttfc_ms": 80, "total_ms": 900, "model": "offline",
        "prompt_tokens": 12, "completion_tokens": 8, "flags": [], "flag_detail": "", "hidden": False,
        "reviewed_at": None, "blocked_text": None,
    }
    assert (data["messages"][2]["status"], data["messages"][2]["error_code"]) == ("failed", "LLM_ERROR")
    assert [(n["author"], n["text"]) for n in data["notes"]] == [(admin_user_obj.username, "다음 주 다시 확인")]
    assert list(TranscriptAccess.objects.values_list("kind", "staff_id", "session_id")) == [
        ("export_json", admin_user_obj.pk, session.pk)
    ]


def test_csv_export_opens_in_excel_with_korean_and_is_audited(client: Any, viewer: Any, user: Any) -> None:
    session = _session(user)
    _say(session, "요즘 잠을 못 자요, 정말로")
    _say(session, "=cmd|' /C calc'!A0", role=Role.ASSISTANT)

    response = client.get(f"{SESSIONS}{session.pk}/export/csv/")

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response.content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert [row["text"] for row in rows] == ["요즘 잠을 못 자요, 정말로", "'=cmd|' /C calc'!A0"]
    assert rows[0]["session_key"] == session.key and rows[0]["role"] == "user"
    assert TranscriptAccess.objects.get().kind == "export_csv"
    assert client.get(f"{SESSIONS}{session.pk}/export/xml/").status_code == 404
    assert client.get(f"{SESSIONS}999999/export/csv/").status_code == 404


# --- quality page -------------------------------------------------------------------------------


def test_quality_page_draws_svg_charts_with_correct_percentiles(admin_client: Any, user: Any) -> None:
    session = _session(user)
    for value in (500, 100, 1000, 200, 900, 300, 800, 400, 700, 600):
        _say(session, "답변", role=Role.ASSISTANT, ttfc_ms=value, total_ms=value * 10,
             prompt_tokens=40, completion_tokens=10)

    response = admin_client.get(reverse("admin:conversations_quality"))

    body = response.content.decode()
    assert response.status_code == 200
    # Three across products, then one for each product that replied (counseling here).
    assert body.count("<svg class=\"quality-chart\"") == 4
    assert "<polyline" in body or "<circle" in body
    today = timezone.localdate().isoformat()
    ttfc_row = next(row for row in response.context["sections"][0].rows if row[0] == today)
    assert ttfc_row[1:4] == ["550", "955", "10"]
    assert "<td>550</td><td>955</td><td>10</td>" in body
    assert "<td>5,500</td><td>9,550</td>" in body
    assert "<td>400</td><td>100</td><td>500</td>" in body  # tokens: prompt, completion, total
    assert len(response.context["sections"][0].rows) == 14


def test_quality_page_days_parameter(admin_client: Any) -> None:
    url = reverse("admin:conversations_quality")
    assert len(admin_client.get(url, {"days": "7"}).context["sections"][0].rows) == 7
    assert len(admin_client.get(url, {"days": "abc"}).context["sections"][0].rows) == 14
    assert len(admin_client.get(url, {"days": "100000"}).context["sections"][0].rows) == 90


# --- audit records and tokens -------------------------------------------------------------------


def test_audit_logs_are_read_only_even_for_superusers(admin_client: Any, user: Any) -> None:
    session = _session(user)
    admin_client.get(f"{SESSIONS}{session.pk}/change/")
    admin_client.post(f"{SESSIONS}{session.pk}/review/")
    access, action = TranscriptAccess.objects.get(), ModerationAction.objects.get()
    for base, pk in (("transcriptaccess", access.pk), ("moderationaction", action.pk)):
        listing = admin_client.get(f"/admin/conversations/{base}/")
        assert listing.status_code == 200 and session.key in listing.content.decode()
        assert admin_client.get(f"/admin/conversations/{base}/add/").status_code == 403
        assert admin_client.post(f"/admin/conversations/{base}/{pk}/delete/", {"post": "yes"}).status_code == 403
        assert admin_client.post(f"/admin/conversations/{base}/{pk}/change/", {"kind": "view"}).status_code == 403
    assert TranscriptAccess.objects.count() == 1
    assert ModerationAction.objects.count() == 1


def test_staff_revoke_api_tokens(admin_client: Any, user: Any) -> None:
    token, _ = token_issue(user=user, name="앱")
    admin_client.post("/admin/conversations/apitoken/", {"action": "revoke", "_selected_action": [token.pk]})
    assert ApiToken.objects.get(pk=token.pk).revoked_at is not None
    from django.contrib.admin.models import LogEntry

    (entry,) = LogEntry.objects.filter(object_id=str(token.pk))
    assert entry.user.username == "admin" and "토큰 폐기" in entry.get_change_message()


def test_queue_previews_and_crisis_pages_are_audit_logged(admin_client: Any, admin_user_obj: Any,
                                                           make_user: Any) -> None:
    from conversations.models import ScreeningDecision
    from conversations.safety import Assessment, Level
    from conversations.screening import screening_record

    sessions = [ChatSession.objects.create(key=f"sess_seen{i}", product="counseling", user=make_user(f"u{i}"))
                for i in range(2)]
    for session in sessions:
        screening_record(session=session, message=_say(session, "죽고 싶어요", flags=["crisis"]),
                         assessment=Assessment(level=Level.PASSIVE))
    admin_client.get(MESSAGES)  # the moderation queue: one row per session whose words it showed
    previews = TranscriptAccess.objects.filter(kind="preview")
    assert sorted(previews.values_list("session_id", flat=True)) == sorted(s.pk for s in sessions)
    assert {a.staff_id for a in previews} == {admin_user_obj.pk}
    decision = ScreeningDecision.objects.filter(session=sessions[0]).get()
    admin_client.get(reverse("admin:conversations_screeningdecision_changelist"))
    admin_client.get(reverse("admin:conversations_screeningdecision_change", args=[decision.pk]))
    assert TranscriptAccess.objects.filter(kind="preview").count() == 4
    assert list(TranscriptAccess.objects.filter(kind="view").values_list("session_id", flat=True)) == [sessions[0].pk]


# --- Crisis-screening queue -----------------------------------------------------------------


def test_screening_queue_lists_urgent_first_and_the_banner_counts_them(admin_client: Any, make_user: Any) -> None:
    from conversations.models import ScreeningDecision
    from conversations.safety import Assessment, Level
    from conversations.screening import screening_record

    session = ChatSession.objects.create(key="sess_queue", product="counseling", user=make_user())
    for level in (Level.PASSIVE, Level.PLAN, Level.HISTORY, Level.SELF_HARM):
        screening_record(session=session, message=_say(session, level.label), assessment=Assessment(level=level))
    page = admin_client.get(reverse("admin:conversations_screeningdecision_changelist"))
    assert [d.level for d in page.context["cl"].result_list] == ["self_harm", "plan", "passive", "history"]
    index = admin_client.get(reverse("admin:index")).content.decode()
    assert 'id="crisis-banner"' in index and "긴급 위기 신호 2건" in index
    messages_page = admin_client.get(MESSAGES, {"queue": "all"})
    assert [m.content for m in messages_page.context["cl"].result_list][:2] == [Level.SELF_HARM.label,
                                                                                  Level.PLAN.label]
    ScreeningDecision.objects.filter(urgent=True).update(reviewed_at=timezone.now())
    assert 'id="crisis-banner"' not in admin_client.get(reverse("admin:index")).content.decode()


def test_reviewing_a_decision_or_its_session_takes_it_out_of_the_crisis_queue(
        admin_client: Any, make_user: Any) -> None:
    from conversations.models import ScreeningDecision
    from conversations.safety import Assessment, Level
    from conversations.screening import screening_record

    session = ChatSession.objects.create(key="sess_review", product="counseling", user=make_user())
    first = screening_record(session=session, message=_say(session, "유서를 썼어요", flags=[Flag.CRISIS]),
                             assessment=Assessment(level=Level.PREPARATION))
    second = screening_record(session=session, message=_say(session, "약을 모았어요", flags=[Flag.CRISIS]),
                              assessment=Assessment(level=Level.PREPARATION))
    url = reverse("admin:conversations_screeningdecision_changelist")
    page = admin_client.post(url, {"action": "mark_reviewed", "_selected_action": [first.pk]}, follow=True)
    assert "기록 1개를 검토 완료로 표시했습니다." in page.content.decode()
    first.refresh_from_db()
    assert first.reviewed_at is not None and first.message is not None and first.message.reviewed_at is not None
    assert ModerationAction.objects.filter(kind=ModerationAction.Kind.REVIEW_MESSAGE, message=first.message).exists()
    assert "긴급 위기 신호 1건" in admin_client.get(reverse("admin:index")).content.decode()

    _review_from_page(admin_client, session)
    assert not ScreeningDecision.objects.filter(pk=second.pk, reviewed_at__isnull=True).exists()
    assert 'id="crisis-banner"' not in admin_client.get(reverse("admin:index")).content.decode()
