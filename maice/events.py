"""Publishing a request's events, for the agent and for the web side's own errors."""

from __future__ import annotations

import json
from typing import Any

from conversations import frames
from conversations.aio import run_db
from maice import services
from maice.transport import Bus, Entry

ERROR_MESSAGES: dict[str, str] = {
    "AGENT_TIMEOUT": "에이전트 응답 시간이 초과되었습니다. 잠시 후 다시 질문해 주세요.",
    "AGENT_UNAVAILABLE": "지금은 튜터 에이전트에 연결할 수 없습니다. 잠시 후 다시 질문해 주세요.",
    "LLM_ERROR": "답변을 만드는 중 문제가 생겼습니다. 다시 질문해 주세요.",
    "CANCELLED": "답변 생성을 중단했습니다.",
    "BUSY": "이 대화의 이전 질문에 아직 답하고 있습니다. 답변이 끝난 뒤 다시 질문해 주세요.",
}
# Not sent to clients: the agent took the request (the web side's pick-up timer stops).
ACCEPTED = "agent_accepted"
# Not sent to clients either: the answer's text is arriving, but no chunk can be cut yet (a
# formula or code span longer than a chunk), so the web side's gap timer restarts.
PROGRESS = "agent_progress"
# Nor this: every chunk is out and the whole answer is being checked (the moderation
# endpoint), a wait the answer's timeout bounds, not the gap between chunks.
CHECKING = "agent_checking"
INTERNAL_TYPES = frozenset({ACCEPTED, PROGRESS, CHECKING})


def event_type(data: str) -> str:
    return str(json.loads(data).get("type", ""))


def terminal_in(entries: list[Entry]) -> str | None:
    """The first terminal event's type (or error code) among ``entries``."""
    for _event_id, data in entries:
        event = json.loads(data)
        if event.get("type") in frames.MAICE_TERMINAL_TYPES:
            return str(event.get("error_code") or event["type"])
    return None


class Emitter:
    """One request's events: built by ``conversations.frames``, appended to the bus."""

    def __init__(self, bus: Bus, *, request_id: str, session_id: int) -> None:
        self.bus = bus
        self.request_id = request_id
        self.session_id = session_id
        self.finished = False

    async def emit(self, event_type: str, **fields: Any) -> Entry:
        data = frames.maice_event(event_type, session_id=self.session_id, request_id=self.request_id, **fields)
        event_id = await self.bus.publish(self.request_id, data)
        if event_type in frames.MAICE_TERMINAL_TYPES:
            await self._finish(event_type)
        return event_id, data

    async def error(self, code: str) -> Entry:
        data = frames.maice_error(session_id=self.session_id, request_id=self.request_id, code=code,
                                  message=ERROR_MESSAGES[code])
        event_id = await self.bus.publish(self.request_id, data)
        await self._finish(code)
        return event_id, data

    async def _finish(self, outcome: str) -> None:
        self.finished = True
        await run_db(services.request_finish, request_id=self.request_id, outcome=outcome)
