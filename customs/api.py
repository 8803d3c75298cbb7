"""Customs HTTP API: ``POST /api/v1/chat`` (JSON or SSE) and ``GET /api/cargo/tracking``."""

from __future__ import annotations

import time
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from ninja import Router

from conversations.auth import request_user_optional
from conversations.errors import InvalidMessage, NotFound
from conversations.ratelimit import rate_limit_enforce_async
from customs import limits
from customs.cargo import normalize_cargo_number, recognize_cargo_number
from customs.schemas import ChatIn
from customs.services import Caller, chat_turn
from customs.tracking import tracking_provider

router = Router(tags=["customs"])
cargo_router = Router(tags=["customs"])

# The seed's headers; Access-Control-Allow-Origin comes from django-cors-headers, for the
# configured origins only.
CORS_HEADERS = {
    "Access-Control-Allow-Methods": "GET, POST, OPTIONS",
    "Access-Control-Allow-Headers": "Content-Type, Authorization, X-Requested-With",
}
SSE_HEADERS = {
    **CORS_HEADERS,
    "Access-Control-Expose-Headers": "Content-Type",
    "Cache-Control": "no-cache",
    "Connection": "keep-alive",
    "X-Accel-Buffering": "no",
}


async def _caller(request: HttpRequest) -> Caller:
    user = await request_user_optional(request)
    return Caller(user=user, ip=request.META.get("REMOTE_ADDR") or "unknown")


@router.post("/chat", response={200: dict})
async def chat(request: HttpRequest, payload: ChatIn) -> HttpResponseBase:
    """JSON for cargo_tracking and hscode_classification; an SSE stream for everything else."""
    started = time.monotonic()
    caller = await _caller(request)
    outcome = await chat_turn(caller=caller, message=payload.message, session_uuid=payload.session_uuid,
                              client_msg_id=payload.client_msg_id, started=started)
    if outcome.stream is not None:
        return StreamingHttpResponse(outcome.stream, content_type="text/event-stream", headers=SSE_HEADERS)
    return JsonResponse(outcome.body, json_dumps_params={"ensure_ascii": False}, headers=CORS_HEADERS,
                        content_type="application/json; charset=utf-8")


@cargo_router.get("/tracking", response={200: dict})
async def cargo_tracking(request: HttpRequest, cargo_number: str) -> HttpResponse:
    """The cargo's clearance progress, from UNI-PASS when configured, else stored shipments."""
    caller = await _caller(request)
    key, rate = limits.caller_rate(user_id=caller.user_id, ip=caller.ip)
    await rate_limit_enforce_async(scope="customs.tracking", key=key, rate=rate)
    match = recognize_cargo_number(cargo_number)
    if match is None or match.number != normalize_cargo_number(cargo_number):
        raise InvalidMessage("화물번호 형식이 올바르지 않습니다. 컨테이너, B/L, 항공화물운송장, 화물관리번호 또는 "
                             "운송장 번호를 입력해 주세요.", code="INVALID_CARGO_NUMBER", field="cargo_number")
    provider = tracking_provider()
    result = await provider.track(number=match.number, kind=match.kind)
    if result is None:
        raise NotFound(f"'{match.number}'({match.label})에 대한 통관 진행 정보를 찾을 수 없습니다. 번호와 "
                       "입항 연도를 확인해 주세요.", code="CARGO_NOT_FOUND")
    body: dict[str, Any] = {"success": True, "data": {**result.as_dict(), "confidence_score": match.confidence,
                                                       "note": match.note or None}}
    return JsonResponse(body, json_dumps_params={"ensure_ascii": False}, headers=CORS_HEADERS)
