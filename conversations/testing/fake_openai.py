"""A fake OpenAI-compatible HTTP server for tests and benchmarks.

The real ``openai`` SDK talks to it over loopback HTTP, so streaming, timeouts
and broken connections behave exactly as they would against the real API.
Stdlib only on purpose: benchmarks and non-Django tests import it directly.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import select
import socket
import sys
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self

_DISCONNECT_ERRORS = (BrokenPipeError, ConnectionResetError, ConnectionAbortedError)
# Short enough that stop() and client disconnects are noticed promptly.
_POLL_SLICE = 0.05
_TIMEOUT_FAULT_SECONDS = 30.0
_MODERATION_CATEGORIES = (
    "harassment", "harassment/threatening", "hate", "hate/threatening", "illicit",
    "illicit/violent", "self-harm", "self-harm/instructions", "self-harm/intent",
    "sexual", "sexual/minors", "violence", "violence/graphic",
)  # fmt: skip


# The least pause before a "drop" or "malformed" fault: the SDK's aiohttp transport raises a
# broken body's error ahead of bytes that came in the same read, so the pieces before the
# fault must reach the client first, as they do from a real model.
_FAULT_PAUSE = 0.05


@dataclass
class Behaviour:
    reply: str = "안녕하세요. 무엇이 마음을 무겁게 하나요?"
    ttft: float = 0.0  # seconds before the first content chunk
    delay: float = 0.0  # seconds between chunks
    chunk_size: int = 2  # characters of reply per content chunk
    fault: str | None = None  # None | "timeout" | "429" | "500" | "drop" | "malformed"
    fault_after: int = 0  # for "drop"/"malformed": content chunks sent before the fault
    usage: bool = True  # send a usage chunk when the request asked for include_usage
    model: str = "fake-model"


@dataclass
class RecordedRequest:
    path: str
    headers: dict[str, str]  # keys lower-cased so lookups don't depend on client casing
    body: dict[str, Any]
    received_at: float  # time.monotonic() when the request line arrived, before any parsing
    first_chunk_at: float | None = None  # monotonic time the first content chunk was written
    finished_at: float | None = None
    chunks_sent: int = 0  # content chunks only (not role/stop/usage frames)
    client_disconnected: bool = False  # True if writing failed because the client went away


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # The stdlib default backlog of 5 drops connections under benchmark fan-out.
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], fake: FakeOpenAI) -> None:
        self.fake = fake
        super().__init__(address, _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        exc = sys.exc_info()[1]
        if isinstance(exc, (*_DISCONNECT_ERRORS, TimeoutError)) or self.fake.stopping:
            return
        print(f"fake_openai: error serving {client_address}: {exc!r}", file=sys.stderr)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Without this, tiny SSE writes can sit behind Nagle + delayed ACK for ~40 ms.
    disable_nagle_algorithm = True
    server: _Server
    arrived_at = 0.0  # monotonic time the current request's first line was read

    def parse_request(self) -> bool:
        # Stamped before anything is parsed: reading the request is the upstream's own
        # work, not its client's (http.server's header parsing and the body's JSON take
        # about 0.3 ms here, which benchmarks would otherwise charge to the server).
        self.arrived_at = time.monotonic()
        return super().parse_request()

    def setup(self) -> None:
        super().setup()
        self.server.fake._track(self.connection, add=True)

    def finish(self) -> None:
        self.server.fake._track(self.connection, add=False)
        super().finish()

    def log_message(self, fmt: str, *args: Any) -> None:
        if self.server.fake.log_requests:
            sys.stderr.write(f"fake_openai: {fmt % args}\n")

    # -- dispatch -------------------------------------------------------

    def do_POST(self) -> None:
        try:
            self._dispatch_post()
        except _DISCONNECT_ERRORS:
            self.close_connection = True
        except Exception as exc:  # noqa: BLE001 - one bad request must not kill the server
            self.close_connection = True
            print(f"fake_openai: handler error on {self.path}: {exc!r}", file=sys.stderr)

    def do_GET(self) -> None:
        if self.path.split("?", 1)[0] == "/_fake/requests":
            # For benchmarks running the fake in a process of their own: what arrived when.
            self._send(200, {"requests": [_summary(rec) for rec in self.server.fake.requests]})
            return
        self._error(404, f"Unknown path {self.path}")

    do_PUT = do_DELETE = do_PATCH = do_GET  # noqa: N815 - http.server dispatches on these names

    def _dispatch_post(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        path = self.path.split("?", 1)[0]
        try:
            body = json.loads(raw) if raw else {}
        except ValueError:
            body = None
        if not isinstance(body, dict):
            self._error(400, "Body is not a JSON object")
            return
        if path not in ("/v1/chat/completions", "/v1/moderations"):
            self._error(404, f"Unknown path {path}")
            return
        fake = self.server.fake
        headers = {k.lower(): v for k, v in self.headers.items()}
        rec = RecordedRequest(path=path, headers=headers, body=body, received_at=self.arrived_at)
        fake._record(rec)
        try:
            if path == "/v1/moderations":
                self._pause(rec, fake.moderation_delay)
                self._send(200, fake._moderation_response(body))
            else:
                self._chat(rec, fake._next_behaviour(body))
        finally:
            fake._finish(rec)

    # -- chat completions ----------------------------------------------

    def _chat(self, rec: RecordedRequest, b: Behaviour) -> None:
        if b.fault == "timeout":
            self._pause(rec, _TIMEOUT_FAULT_SECONDS)
            self.close_connection = True
            return
        if b.fault == "429":
            error = {"message": "Rate limit reached (fake).", "type": "rate_limit_error", "code": "rate_limit_exceeded"}
            self._send(429, {"error": error}, {"retry-after": "1"})
            return
        if b.fault == "500":
            self._error(500, "boom", "server_error")
            return
        if rec.body.get("stream"):
            self._chat_stream(rec, b)
        else:
            self._chat_plain(rec, b)

    def _chat_plain(self, rec: RecordedRequest, b: Behaviour) -> None:
        if not self._pause(rec, b.ttft):
            return
        if b.fault == "drop":
            self._drop()
            return
        if b.fault == "malformed":
            self._send(200, b"{not json")
            return
        rec.first_chunk_at = time.monotonic()
        self._send(200, {
            "id": f"chatcmpl-{uuid.uuid4().hex}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": b.model,
            "choices": [{
                "index": 0,
                "message": {"role": "assistant", "content": b.reply},
                "finish_reason": "stop",
                "logprobs": None,
            }],
            "usage": _usage(rec.body, b.reply),
        })  # fmt: skip

    def _chat_stream(self, rec: RecordedRequest, b: Behaviour) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        head = {"id": f"chatcmpl-{uuid.uuid4().hex}", "object": "chat.completion.chunk", "created": int(time.time())}
        head["model"] = b.model

        def frame(delta: dict[str, Any], finish_reason: str | None = None) -> bytes:
            return _sse({**head, "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}]})

        if not self._write(rec, frame({"role": "assistant", "content": ""})) or not self._pause(rec, b.ttft):
            return
        step = b.chunk_size if b.chunk_size > 0 else max(len(b.reply), 1)
        pieces = [b.reply[i : i + step] for i in range(0, len(b.reply), step)]
        # One extra iteration so a fault_after >= len(pieces) still fires, just before the stop frame.
        for i in range(len(pieces) + 1):
            # A fault comes while the next piece is awaited, as a real upstream's does: the
            # client has had the pieces before it.
            faulting = b.fault in ("drop", "malformed") and i == min(b.fault_after, len(pieces))
            pause = max(b.delay, _FAULT_PAUSE) if faulting else b.delay
            if i > 0 and (i < len(pieces) or faulting) and not self._pause(rec, pause):
                return
            if faulting:
                if b.fault == "drop":
                    self._drop()
                    return
                if b.fault == "malformed" and not self._write(rec, b"data: {not json\n\n"):
                    return
            if i == len(pieces):
                break
            if not self._write(rec, frame({"content": pieces[i]})):
                return
            if rec.first_chunk_at is None:
                rec.first_chunk_at = time.monotonic()
            rec.chunks_sent += 1
        tail = [frame({}, "stop")]
        stream_options = rec.body.get("stream_options")
        if b.usage and isinstance(stream_options, dict) and stream_options.get("include_usage"):
            tail.append(_sse({**head, "choices": [], "usage": _usage(rec.body, b.reply)}))
        tail.append(b"data: [DONE]\n\n")
        if all(self._write(rec, data) for data in tail):
            self._write_raw(rec, b"0\r\n\r\n")

    # -- low-level I/O ------------------------------------------------

    def _write(self, rec: RecordedRequest, data: bytes) -> bool:
        """Write one HTTP chunk; False means stop sending (client gone or server stopping)."""
        return self._write_raw(rec, b"%x\r\n%s\r\n" % (len(data), data))

    def _write_raw(self, rec: RecordedRequest, data: bytes) -> bool:
        try:
            self.wfile.write(data)
            self.wfile.flush()
        except OSError:  # BrokenPipe/ConnectionReset are the expected ones
            rec.client_disconnected = not self.server.fake.stopping
            self.close_connection = True
            return False
        return True

    def _pause(self, rec: RecordedRequest, seconds: float) -> bool:
        """Sleep, but give up early if the server stops or the client hangs up."""
        deadline = time.monotonic() + seconds
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return True
            if self.server.fake._stop_event.wait(min(remaining, _POLL_SLICE)):
                self.close_connection = True
                return False
            if self._peer_closed():
                rec.client_disconnected = True
                self.close_connection = True
                return False

    def _peer_closed(self) -> bool:
        try:
            readable, _, _ = select.select([self.connection], [], [], 0)
            if not readable:
                return False
            return self.connection.recv(1, socket.MSG_PEEK) == b""
        except (OSError, ValueError):
            return True

    def _drop(self) -> None:
        # Cut the TCP connection without the terminating chunk so the client sees a
        # truncated body (a broken stream), not a clean end of response.
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)
        self.connection.close()

    def _error(self, status: int, message: str, type_: str = "invalid_request_error", code: str | None = None) -> None:
        self._send(status, {"error": {"message": message, "type": type_, "param": None, "code": code}})

    def _send(self, status: int, body: dict[str, Any] | bytes, extra_headers: dict[str, str] | None = None) -> None:
        data = body if isinstance(body, bytes) else json.dumps(body, ensure_ascii=False).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (extra_headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)


def _summary(rec: RecordedRequest) -> dict[str, Any]:
    messages = rec.body.get("messages") or []
    texts = [_text_of(m.get("content")) for m in messages if isinstance(m, dict)]
    return {"path": rec.path, "received_at": rec.received_at, "first_chunk_at": rec.first_chunk_at,
            "finished_at": rec.finished_at, "chunks_sent": rec.chunks_sent,
            "client_disconnected": rec.client_disconnected,
            "first_message": texts[0][:200] if texts else "", "last_message": texts[-1][:500] if texts else ""}


def _sse(payload: dict[str, Any]) -> bytes:
    return b"data: " + json.dumps(payload, ensure_ascii=False).encode() + b"\n\n"


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(p.get("text", "") for p in content if isinstance(p, dict) and isinstance(p.get("text"), str))
    return ""


def _usage(body: dict[str, Any], reply: str) -> dict[str, int]:
    messages = body.get("messages") or []
    prompt_chars = sum(len(_text_of(m.get("content"))) for m in messages if isinstance(m, dict))
    prompt, completion = max(1, prompt_chars // 2), max(1, len(reply) // 2)
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


class FakeOpenAI:
    """Loopback OpenAI-compatible server; use as a context manager or start()/stop()."""

    def __init__(self, behaviour: Behaviour | None = None, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.behaviour: Behaviour = behaviour or Behaviour()
        self.flag_words: list[str] = []
        # Categories reported as flagged when a flag word matches; counselling is
        # the main use, so self-harm is the useful default.
        self.flag_categories: list[str] = ["self-harm", "self-harm/intent"]
        self.moderation_delay = 0.0  # seconds before a moderation answer
        self.log_requests = False
        self._host = host
        self._port = port
        self._cond = threading.Condition()
        self._requests: list[RecordedRequest] = []
        self._queue: deque[Behaviour] = deque()
        # (marker, behaviour): a chat request whose messages contain the marker gets
        # the behaviour, before the queue is consulted. Lets a test tell concurrent
        # calls apart (a classifier beside a reply) without depending on their order.
        self._routes: list[tuple[str, Behaviour]] = []
        self._connections: set[socket.socket] = set()
        self._stop_event = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ------------------------------------------------------

    def start(self) -> Self:
        if self._server is not None:
            return self
        self._stop_event.clear()
        self._server = _Server((self._host, self._port), self)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": _POLL_SLICE}, daemon=True, name="fake-openai"
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        server, thread = self._server, self._thread
        if server is None:
            return
        self._stop_event.set()
        server.shutdown()
        server.server_close()
        # Idle keep-alive handlers block in readline(); shutting their sockets frees them.
        with self._cond:
            connections = list(self._connections)
        for conn in connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        if thread is not None:
            thread.join(timeout=5)
        self._server = self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def stopping(self) -> bool:
        return self._stop_event.is_set()

    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError("FakeOpenAI is not running; call start() first")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/v1"

    # -- test API -----------------------------------------------------

    def queue(self, *behaviours: Behaviour) -> None:
        with self._cond:
            self._queue.extend(behaviours)

    def route(self, marker: str, behaviour: Behaviour) -> None:
        """Answer every chat request whose messages contain ``marker`` with ``behaviour``.

        Markers are tried in the order they were first routed; routing one again replaces its behaviour.
        """
        with self._cond:
            for i, (existing, _) in enumerate(self._routes):
                if existing == marker:
                    self._routes[i] = (marker, behaviour)
                    return
            self._routes.append((marker, behaviour))

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._cond:
            return list(self._requests)

    def wait_for_requests(self, n: int, timeout: float = 5.0) -> list[RecordedRequest]:
        with self._cond:
            if not self._cond.wait_for(lambda: len(self._requests) >= n, timeout):
                raise TimeoutError(f"expected {n} requests, got {len(self._requests)} within {timeout}s")
            return list(self._requests)

    def wait_until_finished(self, index: int = -1, timeout: float = 5.0) -> RecordedRequest:
        def done() -> bool:
            reqs = self._requests
            return -len(reqs) <= index < len(reqs) and reqs[index].finished_at is not None

        with self._cond:
            if not self._cond.wait_for(done, timeout):
                raise TimeoutError(f"request {index} did not finish within {timeout}s")
            return self._requests[index]

    def reset(self) -> None:
        with self._cond:
            self._requests.clear()
            self._queue.clear()
            self._routes.clear()

    # -- used by the handler ------------------------------------------

    def _track(self, conn: socket.socket, *, add: bool) -> None:
        with self._cond:
            (self._connections.add if add else self._connections.discard)(conn)

    def _record(self, rec: RecordedRequest) -> None:
        with self._cond:
            self._requests.append(rec)
            self._cond.notify_all()

    def _finish(self, rec: RecordedRequest) -> None:
        with self._cond:
            rec.finished_at = time.monotonic()
            self._cond.notify_all()

    def _next_behaviour(self, body: dict[str, Any]) -> Behaviour:
        # Only chat completions consume the queue, so a moderation call made
        # alongside a chat call can't steal a queued fault.
        with self._cond:
            if self._routes:
                messages = body.get("messages") or []
                text = "\n".join(_text_of(m.get("content")) for m in messages if isinstance(m, dict))
                for marker, behaviour in self._routes:
                    if marker in text:
                        return behaviour
            return self._queue.popleft() if self._queue else self.behaviour

    def _moderation_response(self, body: dict[str, Any]) -> dict[str, Any]:
        raw = body.get("input", "")
        inputs = raw if isinstance(raw, list) else [raw]
        words = [w.casefold() for w in self.flag_words if w]
        results = []
        for item in inputs:
            text = (item if isinstance(item, str) else _text_of([item])).casefold()
            flagged = any(w in text for w in words)
            hit = {c: flagged and c in self.flag_categories for c in _MODERATION_CATEGORIES}
            results.append({
                "flagged": flagged,
                "categories": hit,
                "category_scores": {c: 0.99 if on else 0.001 for c, on in hit.items()},
                "category_applied_input_types": {c: ["text"] for c in _MODERATION_CATEGORIES},
            })  # fmt: skip
        return {"id": f"modr-{uuid.uuid4().hex}", "model": "fake-moderation", "results": results}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Fake OpenAI-compatible server")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    parser.add_argument("--reply", default=Behaviour.reply)
    parser.add_argument("--ttft", type=float, default=0.0)
    parser.add_argument("--delay", type=float, default=0.0)
    parser.add_argument("--chunk-size", type=int, default=2)
    parser.add_argument("--fault", choices=["timeout", "429", "500", "drop", "malformed"], default=None)
    parser.add_argument("--fault-after", type=int, default=0)
    parser.add_argument("--model", default=Behaviour.model)
    parser.add_argument("--flag-word", action="append", default=[], help="moderation flag word (repeatable)")
    parser.add_argument("--log", action="store_true", help="log each request to stderr")
    parser.add_argument("--route", action="append", default=[], metavar="MARKER=REPLY",
                        help="requests whose messages contain MARKER get REPLY in one chunk after --ttft (repeatable)")
    args = parser.parse_args(argv)
    fields = ("reply", "ttft", "delay", "chunk_size", "fault", "fault_after", "model")
    fake = FakeOpenAI(Behaviour(**{f: getattr(args, f) for f in fields}), host=args.host, port=args.port)
    for route in args.route:
        marker, sep, reply = route.partition("=")
        if not sep or not marker:
            parser.error(f"--route must look like MARKER=REPLY, got {route!r}")
        fake.route(marker, Behaviour(reply=reply, ttft=args.ttft, chunk_size=0, model=args.model))
    fake.flag_words = args.flag_word
    fake.log_requests = args.log
    with fake:
        print(fake.base_url, flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
