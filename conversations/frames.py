"""Every stream frame the server sends is built here.

Event names and field names are the frontends' hard contract (see shared/spec).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
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
