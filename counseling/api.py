"""Session lifecycle REST calls (compat with the frontend's existing calls)."""

from __future__ import annotations

import json
from typing import Any

import pydantic
from django.conf import settings
from django.http import HttpRequest
from ninja import Router, Status
from ninja.errors import HttpError, ValidationError

from conversations.auth import api_auth, request_user
from conversations.models import ChatSession, Message
from conversations.ratelimit import rate_limit_enforce, request_rate_key
from counseling import selectors, services
from counseling.schemas import SessionStartIn, epoch_ms, session_data

router = Router(auth=api_auth, tags=["counseling"])


def _session(session: ChatSession, *, messages: list[Message] | None = None) -> dict[str, Any]:
    data = session_data(session)
    if messages is not None:
        data["messageCount"] = len(messages)
        data["messages"] = [
            {
                "id": m.pk,
                "role": m.role,
                "text": m.content,
                "emotion": m.emotion,
                "status": m.status,
                "timestamp": epoch_ms(m.created_at),
            }
            for m in messages
        ]
    else:
        data["messageCount"] = session.messages.filter(hidden=False).count()
    return data


def _ok(data: dict[str, Any]) -> dict[str, Any]:
    return {"success": True, "data": data}


def _optional_body(request: HttpRequest) -> SessionStartIn:
    """The frontend may POST with no body at all, or an empty form: no options then."""
    if request.content_type != "application/json" or not request.body.strip():
        return SessionStartIn()
    try:
        data = json.loads(request.body)
    except (ValueError, RecursionError) as exc:  # (nesting deeper than the parser's stack)
        raise HttpError(400, "invalid JSON") from exc
    try:
        return SessionStartIn.model_validate(data)
    except pydantic.ValidationError as exc:
        raise ValidationError([{**e, "loc": ("body", *e["loc"])} for e in exc.errors()]) from exc


@router.post("/start", response={201: dict}, openapi_extra={"requestBody": {"content": {"application/json": {
    "schema": SessionStartIn.model_json_schema()}}, "required": False}})
def session_start(request: HttpRequest) -> Status:
    payload = _optional_body(request)
    rate_limit_enforce(scope="counseling.session_start", key=request_rate_key(request),
                       rate=settings.COUNSELING_SESSION_START_RATE)
    session = services.session_start(user=request_user(request), counselor_id=payload.counselorId or "")
    return Status(201, _ok(_session(session)))


@router.get("/{session_id}")
def session_detail(request: HttpRequest, session_id: str, include: str = "") -> dict[str, Any]:
    session = selectors.session_get(key=session_id, user=request_user(request))
    with_messages = "messages" in include.split(",")
    return _ok(_session(session, messages=selectors.session_history(session=session) if with_messages else None))


def _transition(request: HttpRequest, session_id: str, action: services.Transition) -> dict[str, Any]:
    session = services.session_transition(key=session_id, user=request_user(request), action=action)
    return _ok(_session(session))


@router.post("/{session_id}/pause")
def session_pause(request: HttpRequest, session_id: str) -> dict[str, Any]:
    return _transition(request, session_id, "pause")


@router.post("/{session_id}/resume")
def session_resume(request: HttpRequest, session_id: str) -> dict[str, Any]:
    return _transition(request, session_id, "resume")


@router.post("/{session_id}/end")
def session_end(request: HttpRequest, session_id: str) -> dict[str, Any]:
    return _transition(request, session_id, "end")
