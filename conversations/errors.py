"""Domain errors. HTTP mapping lives in ``config/api.py``; streams map them per product."""

from __future__ import annotations


class DomainError(Exception):
    """An error a client is told about: a stable code, a Korean message, an HTTP status."""

    code = "ERROR"
    status = 400
    message = "요청을 처리할 수 없습니다."

    def __init__(self, message: str | None = None, *, code: str | None = None, retry_after: int | None = None,
                 field: str | None = None):
        self.message = message or self.message
        self.code = code or self.code
        self.retry_after = retry_after
        self.field = field  # the request field at fault, listed as a validation error's are
        super().__init__(self.code)


class NotFound(DomainError):
    code = "NOT_FOUND"
    status = 404
    message = "요청한 항목을 찾을 수 없습니다."


class SessionNotFound(NotFound):
    code = "SESSION_NOT_FOUND"
    message = "세션을 찾을 수 없습니다."


class SessionEnded(DomainError):
    code = "SESSION_ENDED"
    status = 409
    message = "이미 종료된 세션입니다. 새 세션을 시작해 주세요."


class InvalidMessage(DomainError):
    code = "INVALID_MESSAGE"
    status = 422
    message = "메시지를 입력해 주세요."


class MessageTooLong(DomainError):
    code = "MESSAGE_TOO_LONG"
    status = 413
    message = "메시지가 너무 깁니다."


class RateLimited(DomainError):
    code = "RATE_LIMITED"
    status = 429
    message = "요청이 너무 많습니다. 잠시 후 다시 시도해 주세요."


class ServiceUnavailable(DomainError):
    """A shared service (Redis) cannot be reached and the request cannot be served safely."""

    code = "SERVICE_UNAVAILABLE"
    status = 503
    message = "서비스에 일시적으로 연결할 수 없습니다. 잠시 후 다시 시도해 주세요."


class Busy(DomainError):
    code = "BUSY"
    status = 409
    message = "이전 응답을 아직 생성하고 있습니다. 잠시만 기다려 주세요."


class NotSignedIn(DomainError):
    code = "UNAUTHORIZED"
    status = 401
    message = "로그인이 필요합니다."
