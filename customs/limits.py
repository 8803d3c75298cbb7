"""Who a customs request counts against; the counters are the platform's (``conversations.ratelimit``)."""

from __future__ import annotations

from django.conf import settings


def caller_rate(*, user_id: int | None, ip: str) -> tuple[str, str]:
    """(key, rate): signed-in users per user, guests per client IP."""
    if user_id is not None:
        return f"user:{user_id}", settings.CUSTOMS_RATE
    return f"ip:{ip}", settings.CUSTOMS_GUEST_RATE
