"""The LLM gateway: ``get_provider()`` returns the configured provider."""

from __future__ import annotations

from django.conf import settings

from conversations.aio import PerLoop
from conversations.llm.base import (
    Accepted,
    ChatMessage,
    ChatRequest,
    Completion,
    LLMError,
    LLMProvider,
    StreamItem,
    TextDelta,
    Usage,
)
from conversations.llm.offline import OFFLINE_MODEL, OfflineProvider, register_responder
from conversations.llm.openai_provider import OpenAICompatibleProvider

__all__ = [
    "OFFLINE_MODEL",
    "Accepted",
    "ChatMessage",
    "ChatRequest",
    "Completion",
    "LLMError",
    "LLMProvider",
    "StreamItem",
    "TextDelta",
    "Usage",
    "get_provider",
    "provider_close",
    "reset_providers",
    "register_responder",
]

# An HTTP client's connection pool belongs to one event loop: one provider per loop.


def _build() -> LLMProvider:
    if not settings.LLM_BASE_URL:
        return OfflineProvider(token_delay=settings.OFFLINE_LLM_TOKEN_DELAY_MS / 1000)
    return OpenAICompatibleProvider(
        base_url=settings.LLM_BASE_URL,
        api_key=settings.LLM_API_KEY,
        connect_timeout=settings.LLM_CONNECT_TIMEOUT,
        read_timeout=settings.LLM_READ_TIMEOUT,
        total_timeout=settings.LLM_TOTAL_TIMEOUT,
        max_retries=settings.LLM_MAX_RETRIES,
        moderation_model=settings.LLM_MODERATION_MODEL if settings.LLM_MODERATION else None,
    )


# An HTTP client's connection pool belongs to one event loop: one provider per loop.
_providers = PerLoop(_build)


def get_provider() -> LLMProvider:
    return _providers.get()


async def provider_close() -> None:
    """Close this loop's provider, if one was built: its connections belong to the loop."""
    provider = _providers.pop()
    if provider is not None:
        await provider.aclose()


def reset_providers() -> None:
    """Forget built providers (tests change LLM settings between cases)."""
    _providers.clear()
