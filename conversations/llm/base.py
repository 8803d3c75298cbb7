"""The LLM gateway interface: one request type, one stream item type, one error type."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ChatMessage:
    role: str  # "system" | "user" | "assistant"
    content: str


@dataclass(frozen=True)
class ChatRequest:
    product: str
    messages: tuple[ChatMessage, ...]
    model: str
    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None
    # Ask for one JSON object (OpenAI's ``response_format: json_object``); the caller
    # still validates what comes back.
    json_mode: bool = False
    # Facts the offline provider needs to write its reply (e.g. the user's emotion).
    context: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Accepted:
    """The upstream has the request (its response began); the model is working on it."""


@dataclass(frozen=True)
class TextDelta:
    text: str


@dataclass(frozen=True)
class Usage:
    """Always the last item of a successful stream."""

    model: str
    prompt_tokens: int | None = None
    completion_tokens: int | None = None


StreamItem = Accepted | TextDelta | Usage


@dataclass(frozen=True)
class Completion:
    text: str
    usage: Usage


class LLMError(Exception):
    """An upstream failure. ``permanent`` errors are never retried."""

    TIMEOUT = "LLM_TIMEOUT"
    UNAVAILABLE = "LLM_UNAVAILABLE"
    STREAMING = "STREAMING_ERROR"

    def __init__(self, code: str, detail: str, *, permanent: bool, retry_after: float | None = None) -> None:
        super().__init__(f"{code}: {detail}")
        self.code = code
        self.detail = detail
        self.permanent = permanent
        self.retry_after = retry_after


class LLMProvider(ABC):
    name: str

    @abstractmethod
    def stream(self, request: ChatRequest) -> AsyncIterator[StreamItem]:
        """``Accepted`` once, text deltas, then one ``Usage``. Closing it stops upstream work."""

    async def complete(self, request: ChatRequest) -> Completion:
        """The whole reply at once (classifiers, JSON answers): the stream, collected."""
        parts: list[str] = []
        usage: Usage | None = None
        stream = self.stream(request)
        try:
            async for item in stream:
                if isinstance(item, TextDelta):
                    parts.append(item.text)
                elif isinstance(item, Usage):
                    usage = item
        finally:
            aclose = getattr(stream, "aclose", None)
            if aclose is not None:
                await aclose()
        return Completion(text="".join(parts), usage=usage or Usage(model=request.model))

    async def moderate(self, text: str) -> bool:
        """True when the provider's moderation endpoint flags ``text``."""
        return False

    async def moderation_categories(self, text: str) -> frozenset[str]:
        """The moderation endpoint's flagged categories for ``text`` ("self-harm/intent", …)."""
        return frozenset()

    async def aclose(self) -> None:
        return None
