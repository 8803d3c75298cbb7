"""The root API: mounts every product's router; maps domain errors to HTTP in one place."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from django.http import HttpRequest, HttpResponse
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError

from conversations.errors import DomainError
from counseling.api import router as counseling_router
from customs.api import cargo_router as customs_cargo_router
from customs.api import router as customs_router
from maice.api import router as maice_router

logger = logging.getLogger(__name__)

api = NinjaAPI(title="Korean LLM chat backend", version="1.0", urls_namespace="api")
api.add_router("/session", counseling_router)
api.add_router("/v1", customs_router)
api.add_router("/cargo", customs_cargo_router)
api.add_router("/maice", maice_router)


def _error(request: HttpRequest, status: int, code: str, message: str, **extra: object) -> HttpResponse:
    body = {"success": False, "error": {"code": code, "message": message, **extra}}
    return api.create_response(request, body, status=status)


@api.exception_handler(DomainError)
def on_domain_error(request: HttpRequest, exc: DomainError) -> HttpResponse:
    extra = {"fields": [{"field": exc.field, "message": exc.message}]} if exc.field else {}
    response = _error(request, exc.status, exc.code, exc.message, **extra)
    if exc.retry_after is not None:
        response["Retry-After"] = str(exc.retry_after)
    return response


_SOURCES = ("body", "query", "path", "header", "cookie", "form")


def _field_name(loc: Sequence[object]) -> str:
    """``message``, not ``body.payload.message``: the name the client sent."""
    parts = [str(p) for p in loc]
    if parts and parts[0] in _SOURCES:
        parts = parts[1:]
    if parts and parts[0] == "payload":
        parts = parts[1:]
    return ".".join(parts)


@api.exception_handler(ValidationError)
def on_validation_error(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    fields = [{"field": _field_name(err.get("loc", ())), "message": err.get("msg", "")} for err in exc.errors]
    return _error(request, 422, "VALIDATION_ERROR", "요청 값이 올바르지 않습니다.", fields=fields)


@api.exception_handler(AuthenticationError)
def on_auth_error(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    return _error(request, 401, "UNAUTHORIZED", "로그인이 필요합니다.")


@api.exception_handler(HttpError)
def on_http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    messages = {
        400: ("BAD_REQUEST", "요청 형식이 올바르지 않습니다."),
        403: ("FORBIDDEN", "권한이 없습니다."),
        404: ("NOT_FOUND", "요청한 항목을 찾을 수 없습니다."),
        405: ("METHOD_NOT_ALLOWED", "허용되지 않는 요청 방식입니다."),
    }
    code, message = messages.get(exc.status_code, ("ERROR", "요청을 처리할 수 없습니다."))
    return _error(request, exc.status_code, code, message)


@api.exception_handler(Exception)
def on_unexpected(request: HttpRequest, exc: Exception) -> HttpResponse:
    logger.exception("unhandled API error on %s", request.path)
    return _error(request, 500, "INTERNAL_ERROR", "일시적인 오류가 발생했습니다. 잠시 후 다시 시도해 주세요.")
