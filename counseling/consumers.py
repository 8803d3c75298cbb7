"""The counseling WebSocket: parse frames, call services, send frames. Nothing more."""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from contextlib import aclosing
from functools import cached_property, partial
from typing import Any

from channels.consumer import get_handler_name
from channels.exceptions import StopConsumer
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.contrib.auth.models import User

from conversations import frames
from conversations.aio import run_db
from conversations.auth import socket_user
from conversations.errors import Busy, DomainError, NotSignedIn, SessionEnded, SessionNotFound
from conversations.generation import ReplyChunk, ReplyFailed, ReplyFinished
from conversations.models import MessageStatus
from conversations.ratelimit import socket_slot_acquire, socket_slot_release
from conversations.recovery import stream_register, stream_unregister
from counseling import selectors, services
from counseling.schemas import session_data
from counseling.services import CounselingEvent, ReplyBegin

logger = logging.getLogger(__name__)

CLOSE_UNAUTHENTICATED = 4401
CLOSE_NOT_FOUND = 4404
CLOSE_ENDED = 4409
CLOSE_TOO_MANY_SOCKETS = 4429
# Applications may only send 1000 or 3000–4999 (the server sends 1009 itself for frames over
# its cap); these mirror 1003/1009 in the application range.
CLOSE_UNSUPPORTED_DATA = 4003
CLOSE_TOO_BIG = 4009
CLOSE_INTERNAL_ERROR = 1011

COMMANDS = ["request_ai_response", "cancel_ai_response", "ping", "pause", "resume", "end", "get_status"]

# Korean texts for upstream failure codes (the code itself goes out beside it).
UPSTREAM_ERRORS = {
    "LLM_TIMEOUT": "AI 응답이 지연되고 있어요. 잠시 후 다시 말씀해 주세요.",
    "LLM_UNAVAILABLE": "지금은 AI 상담사와 연결할 수 없어요. 잠시 후 다시 시도해 주세요.",
    "STREAMING_ERROR": "응답을 받는 중에 문제가 생겼어요. 다시 말씀해 주시겠어요?",
}

# Said before a stream is cut short by a server restart (SIGTERM): the client may ask again.
SHUTDOWN_ERROR = ("SERVER_RESTARTING", "서버가 잠시 재시작되어 응답이 중단되었어요. 다시 말씀해 주시겠어요?")


class CounselingConsumer(AsyncWebsocketConsumer):
    async def dispatch(self, message: dict[str, Any]) -> None:
        # Channels hops to its one database thread before every frame to close stale
        # connections; every database call here goes through run_db, which does that on
        # its own pool, so the hop would only queue frames behind other sockets' work.
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        try:
            await handler(message)
        except StopConsumer:
            raise
        except Exception:
            # A fault ends the consumer without Channels' disconnect: release what the socket
            # holds here, or its slot would be renewed by this process's heartbeat for good.
            logger.exception("counseling socket failed: session=%s", getattr(self, "session_key", "?"))
            await self.disconnect(CLOSE_INTERNAL_ERROR)
            await self.close(code=CLOSE_INTERNAL_ERROR)
            raise StopConsumer() from None

    async def connect(self) -> None:
        self.session_key: str = self.scope["url_route"]["kwargs"]["session_id"]
        self.socket_id = secrets.token_hex(8)
        self.user: User | None = None
        self.slot_held = False
        self.reply_task: asyncio.Task[None] | None = None
        self.reply_ended = False  # the reply task has sent its terminal frame
        self.stop_reason: str | None = None  # "stop" (the user's), "shutdown" (the server's)
        self.current_message_id: int | None = None
        self.auth_watch: asyncio.Task[None] | None = None
        # The handshake completes at once, whatever the load; the checks follow, and a
        # refusal closes with a code so clients can tell the reasons apart.
        await self.accept()
        try:
            user, session = await run_db(selectors.socket_attach, scope=self.scope, key=self.session_key)
        except NotSignedIn:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        except SessionNotFound:
            await self.close(code=CLOSE_NOT_FOUND)
            return
        except SessionEnded:
            await self.close(code=CLOSE_ENDED)
            return
        self.user, self.session = user, session
        if not await socket_slot_acquire(user_id=user.pk, socket_id=self.socket_id,
                                         limit=settings.WS_MAX_SOCKETS_PER_USER):
            await self.close(code=CLOSE_TOO_MANY_SOCKETS)
            return
        self.slot_held = True
        self.auth_watch = asyncio.create_task(self._watch_auth())
        stream_register(self._shutdown)
        await self.send(frames.counseling_connected(session_id=session.key, status=session.status,
                                                    commands=COMMANDS))

    async def disconnect(self, code: int) -> None:
        stream_unregister(self._shutdown)
        if self.auth_watch is not None and self.auth_watch is not asyncio.current_task():
            self.auth_watch.cancel()
            await asyncio.wait({self.auth_watch})
        await self._cancel_reply()
        if self.slot_held and self.user is not None:
            self.slot_held = False
            await socket_slot_release(user_id=self.user.pk, socket_id=self.socket_id)

    async def _watch_auth(self) -> None:
        """Close the socket once the token it opened with is revoked or its login ended."""
        assert self.user is not None
        while True:
            await asyncio.sleep(settings.WS_AUTH_RECHECK_SECONDS)
            try:
                user = await run_db(socket_user, self.scope)
            except Exception:  # noqa: BLE001 - the database is away: keep the socket, look again later
                logger.warning("counseling socket auth re-check failed: session=%s", self.session_key)
                continue
            if not isinstance(user, User) or user.pk != self.user.pk:
                logger.info("counseling socket closed: its credentials ended, session=%s", self.session_key)
                await self._cancel_reply()
                await self.close(code=CLOSE_UNAUTHENTICATED)
                return

    async def _shutdown(self) -> None:
        """The server is stopping: end the reply in flight with its terminal frame."""
        if self.reply_task is not None and not self.reply_task.done():
            self.stop_reason = "shutdown"
            await self._cancel_reply()

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        received = time.monotonic()
        if text_data is None:
            await self.close(code=CLOSE_UNSUPPORTED_DATA)
            return
        # daphne caps frames too; this keeps the limit under any ASGI server.
        if len(text_data) > settings.WS_MAX_FRAME_BYTES or len(text_data.encode()) > settings.WS_MAX_FRAME_BYTES:
            await self.close(code=CLOSE_TOO_BIG)
            return
        try:
            payload = json.loads(text_data)
        except (ValueError, RecursionError):  # (nesting deeper than the parser's stack)
            payload = None
        if not isinstance(payload, dict) or not isinstance(payload.get("type"), str):
            await self.send(frames.protocol_error(code="PARSE_ERROR",
                                                  message="JSON 객체 형식의 메시지만 받을 수 있습니다."))
            return
        handler = self._handlers.get(payload["type"])
        if handler is None:
            await self.send(frames.protocol_error(code="UNKNOWN_COMMAND",
                                                  message=f"알 수 없는 명령입니다: {payload['type'][:40]}"))
            return
        await handler(payload.get("data"), received)

    @cached_property
    def _handlers(self) -> dict[str, Callable[[Any, float], Awaitable[None]]]:
        return {
            "request_ai_response": self._on_request,
            "cancel_ai_response": self._on_cancel,
            "ping": self._on_ping,
            "pause": partial(self._on_lifecycle, "pause"),
            "resume": partial(self._on_lifecycle, "resume"),
            "end": partial(self._on_lifecycle, "end"),
            "get_status": self._on_status,
        }

    # --- commands -----------------------------------------------------------------------

    async def _on_request(self, data: Any, received: float) -> None:
        if self.user is None:  # a frame raced the refusal of this socket
            return
        if self.reply_task is not None and not self.reply_task.done():
            if self.reply_ended:
                await self.reply_task  # the client heard the end; only the task's return is left
            elif await services.reply_preempts(data):
                self.stop_reason = "stop"  # the reply in flight ends as a stop, then this one is answered
                await self._cancel_reply()
            else:
                error = Busy()
                await self.send(frames.counseling_error(code=error.code, message=error.message))
                return
        self.reply_ended = False
        self.stop_reason = None
        self.current_message_id = None
        self.reply_task = asyncio.create_task(self._run_reply(data, received))

    async def _on_cancel(self, data: Any, received: float) -> None:
        if self.reply_task is not None and not self.reply_task.done():
            self.stop_reason = "stop"
            await self._cancel_reply()

    async def _on_ping(self, data: Any, received: float) -> None:
        await self.send(frames.ws_event("pong", {"timestamp": int(time.time() * 1000)}))

    async def _on_lifecycle(self, action: services.Transition, data: Any, received: float) -> None:
        if self.user is None:
            return
        if action == "end":
            self.stop_reason = "stop"
            await self._cancel_reply()
        try:
            session = await run_db(services.session_transition, key=self.session_key, user=self.user, action=action)
        except DomainError as exc:
            await self.send(frames.protocol_error(code=exc.code, message=exc.message))
            return
        await self.send(frames.ws_event(f"{action}_success", session_data(session)))

    async def _on_status(self, data: Any, received: float) -> None:
        if self.user is None:
            return
        session = await run_db(selectors.session_get, key=self.session_key, user=self.user)
        busy = self.reply_task is not None and not self.reply_task.done()
        await self.send(frames.ws_event("status_update", {**session_data(session), "streaming": busy}))

    # --- the reply task -------------------------------------------------------------------

    async def _run_reply(self, data: Any, received: float) -> None:
        assert self.user is not None  # requests are only taken once the socket is attached
        try:
            stream = services.reply_stream(session=self.session, user=self.user, data=data, started=received)
            async with aclosing(stream) as events:
                async for event in events:
                    self.reply_ended = isinstance(event, ReplyFinished | ReplyFailed)
                    await self.send(self._frame(event))
        except DomainError as exc:
            await self.send(frames.counseling_error(code=exc.code, message=exc.message, retry_after=exc.retry_after))
        except asyncio.CancelledError:
            message_id = self.current_message_id
            if self.stop_reason == "stop":
                partial = await run_db(selectors.message_text, message_id=message_id) if message_id else ""
                await self.send(frames.counseling_complete(message_id=message_id or 0, full_response=partial,
                                                           stopped=True))
            elif self.stop_reason == "shutdown":
                code, text = SHUTDOWN_ERROR
                await self.send(frames.counseling_error(code=code, message=text, message_id=message_id))
            raise
        except Exception:
            logger.exception("counseling reply failed: session=%s", self.session_key)
            await self.send(frames.counseling_error(code="STREAMING_ERROR", message=UPSTREAM_ERRORS["STREAMING_ERROR"],
                                                    message_id=self.current_message_id))

    def _frame(self, event: CounselingEvent) -> str:
        if isinstance(event, ReplyBegin):
            self.current_message_id = event.message_id
            return frames.counseling_begin(message_id=event.message_id, emotion=event.emotion,
                                           replayed=event.replayed)
        if isinstance(event, ReplyChunk):
            return frames.counseling_chunk(event.text)
        if isinstance(event, ReplyFinished):
            usage = None
            if event.usage is not None:
                usage = {"model": event.usage.model, "prompt_tokens": event.usage.prompt_tokens,
                         "completion_tokens": event.usage.completion_tokens}
            return frames.counseling_complete(
                message_id=event.message_id, full_response=event.text, usage=usage, ttfc_ms=event.ttfc_ms,
                stopped=event.status == MessageStatus.INTERRUPTED, blocked=event.status == MessageStatus.BLOCKED,
                crisis=event.crisis, replayed=event.replayed,
            )
        assert isinstance(event, ReplyFailed)
        return frames.counseling_error(code=event.code, message_id=event.message_id,
                                       message=UPSTREAM_ERRORS.get(event.code, UPSTREAM_ERRORS["STREAMING_ERROR"]))

    async def _cancel_reply(self) -> None:
        task = self.reply_task
        if task is None or task.done():
            return
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            # Ours was the cancellation being finished; if this task itself is being
            # cancelled, let that through.
            current = asyncio.current_task()
            if current is not None and current.cancelling():
                raise
        except Exception:  # noqa: BLE001 - already logged inside the task
            pass
