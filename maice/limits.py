"""The MAICE rate limit, kept in one small function so its backend can change alone."""

from __future__ import annotations

from django.conf import settings

from conversations.aio import run_db
from conversations.ratelimit import rate_limit_enforce


async def chat_rate_enforce(*, user_id: int) -> None:
    """Count one question of the user; ``RateLimited`` (429 with Retry-After) past ``MAICE_RATE``."""
    # The shared counter of every product (the cache: Redis in production), on the
    # database pool's threads rather than the one thread sync_to_async would use.
    await run_db(rate_limit_enforce, scope="maice.chat", key=f"user:{user_id}", rate=settings.MAICE_RATE)
