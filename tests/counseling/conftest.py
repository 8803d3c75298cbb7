from __future__ import annotations

from typing import Any

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator

from conversations.models import ChatSession, Message
from counseling.services import session_start
from tests.conftest import ws_client

TERMINAL = ("ai_stream_complete", "ai_stream_error")


@pytest.fixture
async def session(user: Any) -> ChatSession:
    return await sync_to_async(session_start)(user=user)


@pytest.fixture
async def connect(session: ChatSession, token: str) -> Any:
    opened: list[WebsocketCommunicator] = []

    async def open_socket(key: str | None = None, *, with_token: str | None = token,
                          origin: str | None = None) -> WebsocketCommunicator:
        communicator = ws_client(f"/ws/session/{key or session.key}", token=with_token, origin=origin)
        connected, _ = await communicator.connect()
        assert connected
        opened.append(communicator)
        hello = await communicator.receive_json_from()
        assert hello["type"] == "connected"
        return communicator

    yield open_socket
    for communicator in opened:
        await communicator.disconnect()


async def request(communicator: WebsocketCommunicator, message: Any = "요즘 회사에서 스트레스를 많이 받아요",
                  emotion: Any = "anxious", **extra: Any) -> None:
    await communicator.send_json_to(
        {"type": "request_ai_response",
         "data": {"message": message, "emotion": emotion, "timestamp": 1704902400000, **extra}}
    )


async def collect(communicator: WebsocketCommunicator, timeout: float = 5) -> list[dict[str, Any]]:
    """Frames up to and including the one that ends the reply."""
    frames = []
    while True:
        frame = await communicator.receive_json_from(timeout=timeout)
        frames.append(frame)
        if frame["type"] in TERMINAL:
            return frames


def chunks(frames: list[dict[str, Any]]) -> str:
    return "".join(f["data"]["chunk"] for f in frames if f["type"] == "ai_stream_chunk")


async def messages_of(session: ChatSession) -> list[Message]:
    return [m async for m in Message.objects.filter(session=session).order_by("id")]
