"""The baseline of ``bench.load``: the seed's FastAPI WebSocket design as a raw ASGI relay.

What the seed's backend does per request, and nothing more: accept the socket, insert
the user message and read the recent history through psycopg's async pool, stream the
``openai`` SDK's chunks straight to the socket, insert the reply. No auth, no limits, no
screening, no coalescing: the floor a relay on the same upstream can reach.
Run by ``bench.load`` as ``uvicorn bench.baseline_relay:app`` with ``BASELINE_DATABASE_URL``,
``LLM_BASE_URL``; the frames are the counseling ones so the same client drives both.
"""

from __future__ import annotations

import json
import os
from typing import Any

import openai
from psycopg_pool import AsyncConnectionPool

SCHEMA = """
CREATE TABLE IF NOT EXISTS relay_message (
    id bigserial PRIMARY KEY, session text NOT NULL, role text NOT NULL, content text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now())
"""
HISTORY = "SELECT role, content FROM relay_message WHERE session = %s ORDER BY id DESC LIMIT 10"
INSERT = "INSERT INTO relay_message (session, role, content) VALUES (%s, %s, %s)"

state: dict[str, Any] = {}


async def _lifespan(receive: Any, send: Any) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            pool = AsyncConnectionPool(os.environ["BASELINE_DATABASE_URL"], min_size=1, max_size=10, open=False)
            await pool.open()
            async with pool.connection() as conn:
                await conn.execute(SCHEMA)
            state["pool"] = pool
            state["client"] = openai.AsyncOpenAI(base_url=os.environ["LLM_BASE_URL"], api_key="x", max_retries=0)
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await state["pool"].close()
            await send({"type": "lifespan.shutdown.complete"})
            return


def _frame(kind: str, data: dict[str, Any]) -> dict[str, Any]:
    return {"type": "websocket.send", "text": json.dumps({"type": kind, "data": data}, ensure_ascii=False)}


async def _reply(session: str, text: str, send: Any) -> None:
    pool: AsyncConnectionPool = state["pool"]
    async with pool.connection() as conn:
        rows = await (await conn.execute(HISTORY, (session,))).fetchall()
        await conn.execute(INSERT, (session, "user", text))
    messages = [{"role": "system", "content": "You are a counselor."}]
    messages += [{"role": role, "content": content} for role, content in reversed(rows)]
    messages.append({"role": "user", "content": text})
    await send(_frame("ai_stream_begin", {}))
    parts = []
    stream = await state["client"].chat.completions.create(model="gpt-4o-mini", messages=messages, stream=True)
    async for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            parts.append(chunk.choices[0].delta.content)
            await send(_frame("ai_stream_chunk", {"chunk": chunk.choices[0].delta.content}))
    full = "".join(parts)
    async with pool.connection() as conn:
        await conn.execute(INSERT, (session, "assistant", full))
    await send(_frame("ai_stream_complete", {"fullResponse": full}))


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        await _lifespan(receive, send)
        return
    if scope["type"] != "websocket":
        await send({"type": "http.response.start", "status": 404, "headers": []})
        await send({"type": "http.response.body", "body": b""})
        return
    await receive()  # websocket.connect
    await send({"type": "websocket.accept"})
    session = scope["path"].rsplit("/", 1)[-1]
    await send(_frame("connected", {"sessionId": session, "status": "active", "commands": []}))
    while True:
        message = await receive()
        if message["type"] == "websocket.disconnect":
            return
        request = json.loads(message.get("text") or "{}")
        if request.get("type") == "request_ai_response":
            await _reply(session, request["data"]["message"], send)
