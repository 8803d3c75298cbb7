"""The urgent path over a real daphne server: crisis reply, urgent decision, webhook alert."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from conversations.aio import run_db
from conversations.models import ScreeningDecision
from conversations.safety import CRISIS_REPLY
from conversations.services import token_issue
from conversations.testing.fake_openai import FakeOpenAI
from counseling.services import session_start
from tests.counseling.test_live_websocket import TERMINAL, _open, _recv, _until, _ws_uri
from tests.webhook import WebhookReceiver

pytest_plugins = ["tests.live_server"]
pytestmark = pytest.mark.django_db(transaction=True)


async def test_urgent_statement_over_the_real_server_alerts_on_call(
        alert_webhook: WebhookReceiver, fake_llm: FakeOpenAI, asgi_server: str, make_user: Any) -> None:
    owner = await run_db(make_user, "live-crisis")
    token = (await run_db(token_issue, user=owner))[1]
    session = await run_db(session_start, user=owner)
    async with _open(_ws_uri(asgi_server, session.key, token)) as ws:
        assert (await _recv(ws))["type"] == "connected"
        await ws.send(json.dumps({"type": "request_ai_response",
                                  "data": {"message": "죽으려고 계획을 세웠어요", "emotion": "sad"}}, ensure_ascii=False))
        frames = await _until(ws, TERMINAL)
    assert "".join(f["data"]["chunk"] for f in frames if f["type"] == "ai_stream_chunk") == CRISIS_REPLY
    assert fake_llm.requests == []
    (hook,) = await asyncio.to_thread(alert_webhook.wait)
    assert hook["level"] == "plan" and hook["session_id"] == session.pk
    decision = await ScreeningDecision.objects.aget(session=session)
    assert decision.urgent and decision.level == "plan"
