"""The offline provider: deterministic replies written from each product's own rules.

Products register a responder for their requests (``register_responder``), so the
gateway needs no change when a product is added. Every reply is stored with the model
name ``offline`` so nobody mistakes it for an LLM's.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Callable

from conversations.llm.base import Accepted, ChatRequest, LLMError, LLMProvider, StreamItem, TextDelta, Usage

OFFLINE_MODEL = "offline"

Responder = Callable[[ChatRequest], str]
_responders: dict[str, Responder] = {}

# Word-sized pieces keep the stream shaped like a model's (several chunks per reply).
_PIECE = re.compile(r"\S+\s*|\s+")


def register_responder(product: str, responder: Responder) -> None:
    _responders[product] = responder


class OfflineProvider(LLMProvider):
    name = OFFLINE_MODEL

    def __init__(self, *, token_delay: float = 0.0) -> None:
        # Paces pieces like a model would, so stop buttons and TTS behave as in production.
        self._token_delay = token_delay

    async def stream(self, request: ChatRequest) -> AsyncIterator[StreamItem]:
        responder = _responders.get(request.product)
        if responder is None:
            raise LLMError(LLMError.UNAVAILABLE, f"no offline responder for {request.product}", permanent=True)
        yield Accepted()
        # Responders are pure but not all instant (MAICE computes with SymPy): off the loop.
        reply = await asyncio.to_thread(responder, request)
        for piece in _PIECE.findall(reply):
            if self._token_delay:
                await asyncio.sleep(self._token_delay)
            yield TextDelta(piece)
        prompt_chars = sum(len(m.content) for m in request.messages)
        yield Usage(model=OFFLINE_MODEL, prompt_tokens=max(1, prompt_chars // 2),
                    completion_tokens=max(1, len(reply) // 2))
