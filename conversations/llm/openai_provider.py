"""Any OpenAI-compatible chat completions endpoint, through the ``openai`` SDK."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any

import httpx2
import openai

from conversations.llm.base import Accepted, ChatRequest, LLMError, LLMProvider, StreamItem, TextDelta, Usage

logger = logging.getLogger(__name__)

_MAX_BACKOFF = 2.0


def _retry_after(exc: openai.APIStatusError) -> float | None:
    raw = exc.response.headers.get("retry-after")
    try:
        return float(raw) if raw else None
    except ValueError:
        return None


def _refused(exc: BaseException) -> bool:
    """The connection failed outright (refused, no route) rather than timed out: the SDK's
    aiohttp transport reports both as a connect timeout."""
    cause = exc.__cause__
    while cause is not None:
        if isinstance(cause, OSError) and not isinstance(cause, TimeoutError):
            return True
        cause = cause.__cause__
    return False


def _as_llm_error(exc: Exception, *, streaming: bool) -> LLMError:
    if isinstance(exc, LLMError):
        return exc
    if isinstance(exc, TimeoutError):
        # Raised by our own deadline (the SDK's timeouts are APITimeoutError).
        return LLMError(LLMError.TIMEOUT, "total time limit reached", permanent=True)
    if isinstance(exc, openai.APITimeoutError) and not _refused(exc):
        return LLMError(LLMError.TIMEOUT, "upstream timed out", permanent=False)
    if isinstance(exc, openai.RateLimitError):
        return LLMError(LLMError.UNAVAILABLE, "upstream rate limited (429)", permanent=False,
                        retry_after=_retry_after(exc))
    if isinstance(exc, openai.APIStatusError):
        transient = exc.status_code >= 500 or exc.status_code in (408, 409)
        return LLMError(LLMError.UNAVAILABLE, f"upstream HTTP {exc.status_code}", permanent=not transient)
    if streaming:
        # Dropped connection or an unparseable chunk once the response had started.
        return LLMError(LLMError.STREAMING, f"stream broken: {type(exc).__name__}", permanent=False)
    if isinstance(exc, openai.APIConnectionError):
        return LLMError(LLMError.UNAVAILABLE, "upstream unreachable", permanent=False)
    return LLMError(LLMError.UNAVAILABLE, f"unexpected upstream error: {type(exc).__name__}", permanent=True)


def _texts(chunk: dict[str, Any]) -> list[str]:
    texts = []
    for choice in chunk.get("choices") or ():
        delta = choice.get("delta") if isinstance(choice, dict) else None
        text = delta.get("content") if isinstance(delta, dict) else None
        if isinstance(text, str) and text:
            texts.append(text)
    return texts


def _usage(chunk: dict[str, Any], default_model: str) -> Usage:
    counts = chunk["usage"]

    def count(name: str) -> int | None:
        value = counts.get(name)
        return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None

    model = chunk.get("model")
    return Usage(model=model if isinstance(model, str) and model else default_model,
                 prompt_tokens=count("prompt_tokens"), completion_tokens=count("completion_tokens"))


class OpenAICompatibleProvider(LLMProvider):
    name = "openai"

    def __init__(
        self,
        *,
        base_url: str,
        api_key: str,
        connect_timeout: float,
        read_timeout: float,
        total_timeout: float,
        max_retries: int,
        moderation_model: str | None = None,
    ) -> None:
        timeout = httpx2.Timeout(read_timeout, connect=connect_timeout)
        # The SDK's own retries would also retry mid-stream; ours stop at the first token.
        # Its aiohttp transport: about half the CPU of its default one per request and per
        # streamed reply (bench/README.md), the largest single cost of a reply under load.
        self._client = openai.AsyncOpenAI(
            base_url=base_url,
            api_key=api_key or "not-needed",
            max_retries=0,
            timeout=timeout,
            http_client=openai.DefaultAioHttpClient(timeout=timeout),
        )
        self._total_timeout = total_timeout
        self._max_retries = max_retries
        self._moderation_model = moderation_model

    def _body(self, request: ChatRequest) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": request.model,
            "messages": [{"role": m.role, "content": m.content} for m in request.messages],
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        for name in ("temperature", "top_p", "max_tokens"):
            value = getattr(request, name)
            if value is not None:
                body[name] = value
        if request.json_mode:
            body["response_format"] = {"type": "json_object"}
        return body

    async def stream(self, request: ChatRequest) -> AsyncIterator[StreamItem]:
        body = self._body(request)
        loop = asyncio.get_running_loop()
        # Every wait is bounded by the deadline: a slow drip of chunks, each within the
        # read timeout, must still end when the total time is up.
        deadline = loop.time() + self._total_timeout
        attempt = 0
        accepted = False
        while True:
            sent_text = False
            upstream = None
            try:
                async with asyncio.timeout_at(deadline):
                    # The SDK's generic POST, with chunks left as parsed JSON: `create()`
                    # walks the prompt against its TypedDicts and builds a pydantic model
                    # per chunk, about 1 ms on the way to the first token and a quarter
                    # of the CPU per streamed reply. Errors, timeouts and SSE are the SDK's.
                    upstream = await self._client.post(
                        "/chat/completions", body=body, cast_to=object, stream=True,
                        stream_cls=openai.AsyncStream[object],
                    )
                if not accepted:
                    accepted = True
                    yield Accepted()
                chunks = upstream.__aiter__()
                usage: Usage | None = None
                while True:
                    try:
                        async with asyncio.timeout_at(deadline):
                            chunk = await anext(chunks)
                    except StopAsyncIteration:
                        break
                    if not isinstance(chunk, dict):
                        raise ValueError("chunk is not a JSON object")
                    if isinstance(chunk.get("usage"), dict):
                        usage = _usage(chunk, request.model)
                    for text in _texts(chunk):
                        sent_text = True
                        yield TextDelta(text)
                yield usage or Usage(model=request.model)
                return
            except Exception as exc:  # every upstream failure becomes an LLMError
                error = _as_llm_error(exc, streaming=upstream is not None)
                retryable = not sent_text and not error.permanent and attempt < self._max_retries
                if not retryable:
                    raise error from exc
                attempt += 1
                backoff = min(error.retry_after or 0.25 * 2**attempt, _MAX_BACKOFF)
                if loop.time() + backoff >= deadline:
                    raise error from exc
                logger.warning("llm retry %d after %s (%.2fs)", attempt, error.code, backoff)
                await asyncio.sleep(backoff)
            finally:
                # Also on cancellation: closing the response stops upstream generation.
                if upstream is not None:
                    await upstream.close()

    async def moderate(self, text: str) -> bool:
        if not self._moderation_model:
            return False
        try:
            result = await self._client.moderations.create(model=self._moderation_model, input=text)
        except openai.OpenAIError as exc:
            # Moderation is a second line behind the keyword screen; its outage must not
            # block a user in distress from being answered.
            logger.warning("moderation unavailable: %s", type(exc).__name__)
            return False
        return any(r.flagged for r in result.results)

    async def moderation_categories(self, text: str) -> frozenset[str]:
        if not self._moderation_model:
            return frozenset()
        try:
            result = await self._client.moderations.create(model=self._moderation_model, input=text)
        except openai.OpenAIError as exc:
            logger.warning("moderation unavailable: %s", type(exc).__name__)
            return frozenset()
        flagged: set[str] = set()
        for item in result.results:
            categories = item.categories.model_dump(by_alias=True) if item.categories else {}
            flagged |= {name for name, hit in categories.items() if hit}
        return frozenset(flagged)

    async def aclose(self) -> None:
        await self._client.close()
