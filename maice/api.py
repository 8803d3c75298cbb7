"""MAICE HTTP API: the SSE chat stream, resume, stop and history (shared/spec/maice.md)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from ninja import Router, Status
from ninja.errors import HttpError
from redis.exceptions import RedisError

from conversations.aio import run_db
from conversations.auth import api_auth, async_api_auth, request_user
from conversations.errors import DomainError
from conversations.ratelimit import rate_limit_enforce_async
from conversations.risk import input_screen
from maice import selectors, services
from maice.events import Emitter, terminal_in
from maice.models import MaiceRequest
from maice.schemas import ChatIn, question_data, session_row
from maice.streams import request_cancel, request_events, unrecorded_error
from maice.transport import Bus, entries_after, get_bus, valid_event_id

router = Router(tags=["maice"])


class AgentUnavailable(DomainError):
    code = "AGENT_UNAVAILABLE"
    status = 503
    message = "지금은 튜터 에이전트에 연결할 수 없습니다. 잠시 후 다시 질문해 주세요."


class StreamExpired(DomainError):
    code = "STREAM_EXPIRED"
    status = 410
    message = "이 답변의 스트림은 보관 기간이 지났습니다. 대화 기록에서 확인해 주세요."


class StreamHidden(DomainError):
    code = "STREAM_HIDDEN"
    status = 410
    message = "이 답변은 검토 후 숨겨져 다시 볼 수 없습니다."


def _sse(events: AsyncIterator[bytes], *, request_id: str) -> StreamingHttpResponse:
    response = StreamingHttpResponse(events, content_type="text/event-stream; charset=utf-8")
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"
    response["X-Request-Id"] = request_id
    return response


@router.post("/chat", auth=async_api_auth, response={200: Any})
async def chat(request: HttpRequest, payload: ChatIn) -> HttpResponseBase:
    user = request_user(request)
    over_limit = await rate_limit_enforce_async(scope="maice.chat", key=f"user:{user.pk}", rate=settings.MAICE_RATE,
                                                text=payload.question)
    screening = await input_screen(payload.question, screened=over_limit)
    try:
        accepted = await run_db(services.chat_accept, user=user, question=payload.question, screening=screening,
                                session_id=payload.session_id, mode=payload.mode, client_msg_id=payload.client_msg_id)
    except services.SessionBusy as busy:
        # A stream that ends with BUSY (the contract's error event), carrying the running
        # request's id so a client can resume that one instead.
        return _sse(_once(unrecorded_error(session_id=busy.session_id, request_id=busy.request_id, code="BUSY")),
                    request_id=busy.request_id)
    bus = get_bus()
    if accepted.earlier is not None:
        return await _replay(request, bus, accepted.earlier)
    try:
        if not await bus.dispatch({**accepted.job(), "accepted_at": time.time()}):
            # Nobody would take it: say so now rather than after the pick-up timeout.
            await Emitter(bus, request_id=accepted.request_id,
                          session_id=accepted.session_id).error("AGENT_UNAVAILABLE")
            await run_db(services.request_settle, request_id=accepted.request_id, outcome="AGENT_UNAVAILABLE",
                         error_code="AGENT_UNAVAILABLE")
    except RedisError as exc:
        await run_db(services.request_settle, request_id=accepted.request_id, outcome="AGENT_UNAVAILABLE",
                     error_code="AGENT_UNAVAILABLE")
        raise AgentUnavailable() from exc
    events = request_events(bus, request_id=accepted.request_id, session_id=accepted.session_id)
    return _sse(events, request_id=accepted.request_id)


async def _once(frame: bytes) -> AsyncIterator[bytes]:
    yield frame


def _last_event_id(request: HttpRequest) -> str:
    value = request.headers.get("Last-Event-ID") or request.GET.get("last_event_id") or "0"
    if not valid_event_id(value.strip()):
        raise HttpError(400, "invalid Last-Event-ID")
    return value.strip()


async def _replay(request: HttpRequest, bus: Bus, maice_request: MaiceRequest) -> HttpResponseBase:
    after = _last_event_id(request)
    if not await run_db(selectors.request_replayable, request=maice_request):
        raise StreamHidden()
    history = await bus.history(maice_request.request_id)
    if not history and maice_request.finished_at is not None:
        raise StreamExpired()
    if terminal_in(history) is not None and not entries_after(history, after):
        # The client saw the last event: an EventSource reconnects after every close, and
        # only a 204 stops it (a stream would idle into a false timeout).
        return HttpResponse(status=204, headers={"X-Request-Id": maice_request.request_id})
    events = request_events(bus, request_id=maice_request.request_id, session_id=maice_request.session_id,
                            after=after, accepted=bool(history))
    return _sse(events, request_id=maice_request.request_id)


@router.get("/chat", auth=async_api_auth, response={200: Any})
async def chat_latest(request: HttpRequest) -> HttpResponseBase:
    """The caller's latest stream, replayed (the seed's ``new EventSource(response.url)``)."""
    latest = await run_db(selectors.request_latest, user=request_user(request))
    return await _replay(request, get_bus(), latest)


@router.get("/chat/{request_id}/events", auth=async_api_auth, response={200: Any})
async def chat_events(request: HttpRequest, request_id: str) -> HttpResponseBase:
    """Resume: the events after ``Last-Event-ID``, then live ones."""
    found = await run_db(selectors.request_get_owned, request_id=request_id, user=request_user(request))
    return await _replay(request, get_bus(), found)


@router.post("/chat/{request_id}/cancel", auth=async_api_auth, response={202: dict[str, Any]})
async def chat_cancel(request: HttpRequest, request_id: str) -> Status:
    found = await run_db(selectors.request_get_owned, request_id=request_id, user=request_user(request))
    state = await request_cancel(get_bus(), request_id=found.request_id, session_id=found.session_id)
    return Status(202, {"request_id": found.request_id, "session_id": found.session_id, "status": state})


@router.get("/sessions", auth=api_auth)
def sessions(request: HttpRequest, limit: int = 50, offset: int = 0) -> dict[str, Any]:
    limit, offset = min(max(limit, 1), 200), max(offset, 0)
    found = list(selectors.sessions_of(user=request_user(request))[offset : offset + limit])
    summaries = selectors.session_summaries(session_ids=[s.pk for s in found])
    return {"sessions": [session_row(s, summary=summaries.get(s.pk)) for s in found]}


@router.get("/sessions/{session_id}", auth=api_auth)
def session_detail(request: HttpRequest, session_id: int) -> dict[str, Any]:
    session = selectors.session_get_owned(session_id=session_id, user=request_user(request))
    questions = selectors.session_questions(session=session)
    summary = selectors.session_summaries(session_ids=[session.pk]).get(session.pk)
    return {**session_row(session, summary=summary),
            "question_count": len(questions), "questions": [question_data(q) for q in questions]}
