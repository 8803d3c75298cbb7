"""Every stream frame the server sends is built here.

Event names and field names are the frontends' hard contract (see shared/spec).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any


def _dumps(payload: Mapping[str, Any]) -> str:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"))


def ws_event(event_type: str, data: Mapping[str, Any] | None = None) -> str:
    return _dumps({"type": event_type, "data": dict(data or {})})


# --- Counseling WebSocket (counseling.md) ------------------------------------------------


def counseling_connected(*, session_id: str, status: str, commands: list[str]) -> str:
    return ws_event("connected", {"sessionId": session_id, "status": status, "commands": commands})


def counseling_begin(*, message_id: int, emotion: str | None, replayed: bool = False) -> str:
    data: dict[str, Any] = {"message_id": message_id, "emotion": emotion}
    if replayed:
        data["replayed"] = True
    return ws_event("ai_stream_begin", data)


def counseling_chunk(text: str) -> str:
    return ws_event("ai_stream_chunk", {"chunk": text})


def counseling_complete(
    *,
    message_id: int,
    full_response: str,
    usage: Mapping[str, Any] | None = None,
    ttfc_ms: int | None = None,
    stopped: bool = False,
    blocked: bool = False,
    crisis: bool = False,
    replayed: bool = False,
) -> str:
    data: dict[str, Any] = {"message_id": message_id, "fullResponse": full_response}
    if usage:
        data["usage"] = dict(usage)
    if ttfc_ms is not None:
        data["ttfc_ms"] = ttfc_ms
    for name, flag in (("stopped", stopped), ("blocked", blocked), ("crisis", crisis), ("replayed", replayed)):
        if flag:
            data[name] = True
    return ws_event("ai_stream_complete", data)


def counseling_error(*, code: str, message: str, retry_after: int | None = None,
                     message_id: int | None = None) -> str:
    data: dict[str, Any] = {"error": message, "code": code}
    if retry_after is not None:
        data["retry_after"] = retry_after
    if message_id is not None:
        data["message_id"] = message_id
    return ws_event("ai_stream_error", data)


def protocol_error(*, code: str, message: str) -> str:
    return ws_event("error", {"code": code, "message": message})


# --- Customs SSE, Anthropic Messages format (customs.md) -------------------------------------


def _named_event(event: str, data: Mapping[str, Any]) -> str:
    return f"event: {event}\ndata: {_dumps(data)}\n\n"


def customs_session_info(*, session_uuid: str, timestamp: float) -> str:
    return _named_event("session_info", {"session_uuid": session_uuid, "timestamp": timestamp})


def customs_message_start(*, message_id: str, model: str, parent_uuid: str, uuid: str,
                          input_tokens: int = 0) -> str:
    # usage as Anthropic's API sends it, so its SDK's accumulator can start from here.
    message: dict[str, Any] = {
        "id": message_id, "type": "message", "role": "assistant", "model": model,
        "parent_uuid": parent_uuid, "uuid": uuid, "content": [], "stop_reason": None, "stop_sequence": None,
        "usage": {"input_tokens": input_tokens, "output_tokens": 0},
    }  # fmt: skip
    return _named_event("message_start", {"type": "message_start", "message": message})


def customs_metadata_block_start(*, index: int, session_uuid: str, start_timestamp: str) -> str:
    block: dict[str, Any] = {"start_timestamp": start_timestamp, "stop_timestamp": None, "type": "metadata",
                             "metadata": {"session_uuid": session_uuid}}
    return _named_event("content_block_start", {"type": "content_block_start", "index": index, "content_block": block})


def customs_text_block_start(*, index: int, start_timestamp: str) -> str:
    block: dict[str, Any] = {"start_timestamp": start_timestamp, "stop_timestamp": None, "type": "text", "text": "",
                             "citations": []}
    return _named_event("content_block_start", {"type": "content_block_start", "index": index, "content_block": block})


def _customs_delta(index: int, delta: Mapping[str, Any]) -> str:
    return _named_event("content_block_delta", {"type": "content_block_delta", "index": index, "delta": dict(delta)})


def customs_text_delta(*, index: int, text: str) -> str:
    return _customs_delta(index, {"type": "text_delta", "text": text})


def customs_buttons_start(*, index: int, button_count: int, processing_status: str) -> str:
    return _customs_delta(index, {"type": "detail_buttons_start", "button_count": button_count,
                                  "processing_status": processing_status})


def customs_button_ready(*, index: int, button: Mapping[str, Any]) -> str:
    return _customs_delta(index, {"type": "detail_button_ready", "button_data": dict(button)})


def customs_buttons_timeout(*, index: int, message: str) -> str:
    return _customs_delta(index, {"type": "detail_buttons_timeout", "message": message})


def customs_block_stop(*, index: int, stop_timestamp: str) -> str:
    return _named_event("content_block_stop", {"type": "content_block_stop", "index": index,
                                            "stop_timestamp": stop_timestamp})


def customs_message_delta(*, stop_reason: str, input_tokens: int | None, output_tokens: int) -> str:
    usage: dict[str, Any] = {"output_tokens": output_tokens}
    if input_tokens is not None:
        usage["input_tokens"] = input_tokens
    return _named_event("message_delta", {"type": "message_delta",
                                       "delta": {"stop_reason": stop_reason, "stop_sequence": None},
                                       "usage": usage})


def customs_message_stop() -> str:
    return _named_event("message_stop", {"type": "message_stop"})


# --- MAICE Server-Sent Events (maice.md) --------------------------------------------------

# The stream ends after one of these (clarification_required waits for the student's reply).
MAICE_TERMINAL_TYPES = frozenset({"clarification_required", "summary_complete", "error"})


def utc_timestamp(moment: datetime | None = None) -> str:
    """ISO 8601 in UTC with a ``Z``, to the millisecond."""
    moment = (moment or datetime.now(UTC)).astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def maice_event(event_type: str, *, session_id: int, request_id: str, **fields: Any) -> str:
    """The JSON object of one MAICE event (an SSE ``data:`` line's content)."""
    return _dumps({"type": event_type, "session_id": session_id, "request_id": request_id, **fields,
                   "timestamp": utc_timestamp()})


def maice_error(*, session_id: int, request_id: str, code: str, message: str) -> str:
    return maice_event("error", session_id=session_id, request_id=request_id, error_code=code, message=message)


def sse_event(event_id: str, data: str) -> bytes:
    """One SSE event: ``id:``, one ``data:`` line (``data`` is one-line JSON), a blank line."""
    return f"id: {event_id}\ndata: {data}\n\n".encode()


def sse_comment(text: str = "keep-alive") -> bytes:
    return f": {text}\n\n".encode()
