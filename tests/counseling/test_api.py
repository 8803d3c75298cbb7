"""Session lifecycle REST calls, as the frontend makes them."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from conversations.models import ChatSession, MessageStatus
from conversations.services import message_append, token_issue
from counseling.services import session_start
from tests.conftest import Clock

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(token: str) -> Client:
    return Client(headers={"authorization": f"Bearer {token}"})


def test_start_creates_an_unguessable_session_owned_by_the_caller(api: Client, user: Any) -> None:
    response = api.post("/api/session/start", {"counselorId": "c-7"}, content_type="application/json")
    assert response.status_code == 201
    body = response.json()
    assert body["success"] is True
    data = body["data"]
    assert data["sessionId"].startswith("sess_") and len(data["sessionId"]) >= 5 + 22
    assert data["wsUrls"] == {"session": f"/ws/session/{data['sessionId']}"}
    assert data["status"] == "active"
    assert isinstance(data["startedAt"], int)
    assert list(data)[:4] == ["sessionId", "wsUrls", "startedAt", "status"]  # the spec's order
    session = ChatSession.objects.get(key=data["sessionId"])
    assert session.user == user and session.counselor_id == "c-7"


def test_start_without_a_body_works(api: Client) -> None:
    assert api.post("/api/session/start").status_code == 201
    assert api.post("/api/session/start", "", content_type="application/json").status_code == 201


@pytest.mark.parametrize("body", ["{oops", "[" * 100_000 + "]" * 100_000])
def test_start_with_broken_json_is_a_400_json_error(api: Client, body: str) -> None:
    response = api.post("/api/session/start", body, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "BAD_REQUEST"


def test_detail_with_history_hides_moderated_messages(api: Client, user: Any) -> None:
    session = session_start(user=user)
    message_append(session=session, role="user", text="안녕하세요", emotion="happy")
    hidden = message_append(session=session, role="assistant", text="숨긴 답변")
    hidden.hidden = True
    hidden.save()
    message_append(session=session, role="assistant", text="반가워요", status=MessageStatus.COMPLETE)

    data = api.get(f"/api/session/{session.key}?include=messages").json()["data"]
    assert data["messageCount"] == 2
    assert [(m["role"], m["text"]) for m in data["messages"]] == [("user", "안녕하세요"), ("assistant", "반가워요")]
    assert data["messages"][0]["emotion"] == "happy"
    assert "messages" not in api.get(f"/api/session/{session.key}").json()["data"]


def test_pause_resume_end_are_idempotent(api: Client, user: Any) -> None:
    key = session_start(user=user).key
    first = api.post(f"/api/session/{key}/pause").json()["data"]
    again = api.post(f"/api/session/{key}/pause").json()["data"]
    assert first["status"] == "paused" and first["pausedAt"] == again["pausedAt"]
    assert api.post(f"/api/session/{key}/resume").json()["data"]["status"] == "active"
    ended = api.post(f"/api/session/{key}/end").json()["data"]
    assert ended["status"] == "ended"
    assert api.post(f"/api/session/{key}/end").json()["data"]["endedAt"] == ended["endedAt"]

    response = api.post(f"/api/session/{key}/resume")
    assert response.status_code == 409
    assert response.json() == {"success": False, "error": {"code": "SESSION_ENDED", "message": response.json()["error"]["message"]}}


def test_unknown_and_foreign_sessions_look_the_same(api: Client, make_user: Any) -> None:
    foreign = session_start(user=make_user("bob"))
    for key in ("sess_missing", foreign.key):
        response = api.get(f"/api/session/{key}")
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "SESSION_NOT_FOUND"
        assert response.json()["success"] is False
        assert api.post(f"/api/session/{key}/end").status_code == 404
    foreign.refresh_from_db()
    assert foreign.status == "active"


def test_requests_without_valid_auth_get_401_json() -> None:
    for headers in ({}, {"authorization": "Bearer ct_nope"}):
        response = Client(headers=headers).post("/api/session/start")
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "UNAUTHORIZED"


def test_invalid_body_lists_the_field(api: Client) -> None:
    response = api.post("/api/session/start", {"counselorId": "x" * 65}, content_type="application/json")
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "VALIDATION_ERROR"
    assert [f["field"] for f in error["fields"]] == ["counselorId"]


def test_session_starts_are_rate_limited_with_retry_after(api: Client, settings: Any, clock: Clock) -> None:
    settings.COUNSELING_SESSION_START_RATE = "2/m"
    assert api.post("/api/session/start").status_code == 201
    assert api.post("/api/session/start").status_code == 201
    response = api.post("/api/session/start")
    assert response.status_code == 429
    assert response.json()["error"]["code"] == "RATE_LIMITED"
    assert 1 <= int(response["Retry-After"]) <= 60


def test_token_of_another_user_cannot_read_my_session(user: Any, make_user: Any) -> None:
    mine = session_start(user=user)
    other_token = token_issue(user=make_user("eve"))[1]
    response = Client(headers={"authorization": f"Bearer {other_token}"}).get(f"/api/session/{mine.key}")
    assert response.status_code == 404
