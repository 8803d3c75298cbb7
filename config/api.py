"""The root API: mounts every product's router; maps domain errors to HTTP in one place."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError
from redis.exceptions import RedisError

from conversations.errors import DomainError, ServiceUnavailable
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
    extra: dict[str, object] = {"fields": [{"field": exc.field, "message": exc.message}]} if exc.field else {}
    if exc.retry_after is not None:
        extra["retry_after"] = exc.retry_after  # also in the body: a cross-origin page may not read headers
    response = _error(request, exc.status, exc.code, exc.message, **extra)
    if exc.retry_after is not None:
        response["Retry-After"] = str(exc.retry_after)
    return response


@api.exception_handler(RedisError)
def on_redis_error(request: HttpRequest, exc: RedisError) -> HttpResponse:
    # An outage of the shared store, not a bug: no traceback, and the client may retry.
    logger.warning("redis unavailable on %s: %s", request.path, type(exc).__name__)
    return on_domain_error(request, ServiceUnavailable())


@api.exception_handler(RequestDataTooBig)
def on_body_too_big(request: HttpRequest, exc: RequestDataTooBig) -> HttpResponse:
    return _error(request, 413, "REQUEST_TOO_LARGE", "요청 본문이 너무 큽니다.")


_SOURCES = ("body", "query", "path", "header", "cookie", "form")


def _field_name(loc: Sequence[object]) -> str:
    """``message``, not ``body.payload.message``: the name the client sent."""
    parts = [str(p) for p in loc]
    if parts and parts[0] in _SOURCES:
        parts = parts[1:]
    if parts and parts[0] == "payload":
        parts = parts[1:]
    return ".".join(parts)


# pydantic's messages are English; users read Korean. Keyed by pydantic's error type.
_FIELD_MESSAGES = {
    "missing": "필수 항목입니다.",
    "string_type": "문자열이어야 합니다.",
    "string_too_short": "{min_length}자 이상 입력해 주세요.",
    "string_too_long": "{max_length}자 이하로 입력해 주세요.",
    "int_type": "정수여야 합니다.",
    "int_parsing": "정수여야 합니다.",
    "greater_than": "{gt}보다 커야 합니다.",
    "greater_than_equal": "{ge} 이상이어야 합니다.",
    "less_than": "{lt}보다 작아야 합니다.",
    "less_than_equal": "{le} 이하여야 합니다.",
    "bool_type": "true 또는 false여야 합니다.",
    "bool_parsing": "true 또는 false여야 합니다.",
    "uuid_type": "UUID 형식이어야 합니다.",
    "uuid_parsing": "UUID 형식이어야 합니다.",
    "literal_error": "다음 중 하나여야 합니다: {expected}",
    "list_type": "목록이어야 합니다.",
    "dict_type": "객체여야 합니다.",
    "model_attributes_type": "객체여야 합니다.",
    "json_invalid": "JSON 형식이 올바르지 않습니다.",
    "extra_forbidden": "허용되지 않는 항목입니다.",
}


def _field_message(err: dict[str, Any]) -> str:
    ctx = err.get("ctx") or {}
    if err.get("type") == "value_error" and ctx.get("error"):
        return str(ctx["error"])  # our own validators' messages, Korean already
    if "expected" in ctx:
        ctx = {**ctx, "expected": str(ctx["expected"]).replace(" or ", ", ")}  # "'a' or 'b'"
    template = _FIELD_MESSAGES.get(str(err.get("type")))
    if template is None:
        return "값이 올바르지 않습니다."
    try:
        return template.format(**ctx)
    except (KeyError, IndexError):
        return "값이 올바르지 않습니다."


@api.exception_handler(ValidationError)
def on_validation_error(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    fields = [{"field": _field_name(err.get("loc", ())), "message": _field_message(err)} for err in exc.errors]
    return _error(request, 422, "VALIDATION_ERROR", "요청 값이 올바르지 않습니다.", fields=fields)


@api.exception_handler(AuthenticationError)
def on_auth_error(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    return _error(request, 401, "UNAUTHORIZED", "로그인이 필요합니다.")


_HTTP_ERRORS = {
    400: ("BAD_REQUEST", "요청 형식이 올바르지 않습니다."),
    403: ("FORBIDDEN", "권한이 없습니다."),
    404: ("NOT_FOUND", "요청한 항목을 찾을 수 없습니다."),
    405: ("METHOD_NOT_ALLOWED", "허용되지 않는 요청 방식입니다."),
}


def http_error_response(request: HttpRequest, status: int) -> HttpResponse:
    """The JSON error for a bare HTTP status, also for what Django or ninja answer outside an operation."""
    code, message = _HTTP_ERRORS.get(status, ("ERROR", "요청을 처리할 수 없습니다."))
    return _error(request, status, code, message)


@api.exception_handler(HttpError)
def on_http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    return http_error_response(request, exc.status_code)


@api.exception_handler(Exception)
def on_unexpected(request: HttpRequest, exc: Exception) -> HttpResponse:
    logger.exception("unhandled API error on %s", request.path)
    return _error(request, 500, "INTERNAL_ERROR", "일시적인 오류가 발생했습니다. 잠시 후 다시 시도해 주세요.")
