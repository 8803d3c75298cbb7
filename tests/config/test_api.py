"""Errors every API answers the same way (config/api.py): JSON, Korean, the right status."""

from __future__ import annotations

import json
from typing import Any

import pytest

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_body_over_the_upload_limit_is_413_not_a_server_error(client: Any, settings: Any) -> None:
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    response = client.post("/api/v1/chat", data=json.dumps({"message": "가" * 2000}),
                           content_type="application/json")
    assert response.status_code == 413
    assert response.json()["error"] == {"code": "REQUEST_TOO_LARGE", "message": "요청 본문이 너무 큽니다."}


def test_redis_down_is_503_not_too_many_requests(client: Any, settings: Any) -> None:
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens there
    settings.RATELIMIT_FAIL_OPEN = False
    response = client.post("/api/v1/chat", data={"message": "FTA 원산지 증명서 발급 방법"},
                           content_type="application/json")
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "SERVICE_UNAVAILABLE"


def test_a_rate_limit_carries_its_wait_in_the_body_too(client: Any, settings: Any, clock: Any) -> None:
    settings.CUSTOMS_GUEST_RATE = "1/m"
    body = {"message": "CSQU3054383 조회"}
    assert client.post("/api/v1/chat", data=body, content_type="application/json").status_code == 200
    limited = client.post("/api/v1/chat", data=body, content_type="application/json")
    assert limited.status_code == 429
    assert limited.json()["error"]["retry_after"] == int(limited["Retry-After"]) >= 1


def test_an_unknown_api_path_is_the_json_404(client: Any, settings: Any) -> None:
    settings.DEBUG = False
    response = client.get("/api/maice/nothing-here")
    assert response.status_code == 404 and response["Content-Type"].startswith("application/json")
    assert response.json()["error"]["code"] == "NOT_FOUND"
    page = client.get("/no-such-page/")
    assert page.status_code == 404 and not page["Content-Type"].startswith("application/json")


@pytest.mark.parametrize("path", ["/api/maice/chat/00000000-0000-0000-0000-000000000000/cancel", "/api/v1/chat"])
def test_a_wrong_method_is_the_json_405_naming_the_allowed_ones(client: Any, path: str) -> None:
    response = client.delete(path)
    assert response.status_code == 405 and response["Content-Type"].startswith("application/json")
    assert response.json()["error"]["code"] == "METHOD_NOT_ALLOWED"
    assert "POST" in response["Allow"]


async def test_a_wrong_method_is_the_json_405_on_the_async_path_too(async_client: Any) -> None:
    response = await async_client.put("/api/v1/chat")
    assert response.status_code == 405 and response.json()["error"]["code"] == "METHOD_NOT_ALLOWED"
