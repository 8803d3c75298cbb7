"""Sign-in forms that slow password guessing down.

Staff accounts read crisis transcripts: a password must not be guessable at network speed.
Attempts are counted per client address (every attempt: a class signing in together from
one school address must still fit) and failures per username (across addresses), in the
shared cache. A limited attempt is refused before the password is checked. The username
limit lets an attacker who knows a name keep that account out for up to its window; its
default is generous enough that a person mistyping never meets it.
"""

from __future__ import annotations

import functools
import logging
from typing import Any

import redis
from django import forms
from django.conf import settings
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm

from conversations.ratelimit import RateDecision, rate_limit_hit

logger = logging.getLogger(__name__)


class _Throttled:
    request: Any
    cleaned_data: dict[str, Any]

    def _count(self, *, scope: str, key: str, rate: str, increment: bool) -> RateDecision:
        try:
            return rate_limit_hit(scope=scope, key=key, rate=rate, increment=increment)
        except redis.RedisError:
            # Staff must still get in during a cache outage: the password check stands alone.
            logger.warning("login throttle unavailable: scope=%s", scope)
            return RateDecision(limited=False, retry_after=0)

    def clean(self) -> dict[str, Any]:
        address = self.request.META.get("REMOTE_ADDR", "unknown") if self.request is not None else "unknown"
        username = str(self.cleaned_data.get("username") or "").strip().lower()[:150]
        failures = functools.partial(self._count, scope="login.user", key=f"name:{username}",
                                     rate=settings.LOGIN_FAILURE_RATE)
        for decision in (
            self._count(scope="login.ip", key=f"ip:{address}", rate=settings.LOGIN_RATE, increment=True),
            failures(increment=False),
        ):
            if decision.limited:
                logger.warning("login throttled: address=%s", address)
                minutes = max(1, -(-decision.retry_after // 60))
                raise forms.ValidationError(
                    f"로그인 시도가 너무 많습니다. {minutes}분 후 다시 시도해 주세요.", code="throttled")
        try:
            return super().clean()  # type: ignore[misc]
        except forms.ValidationError:
            failures(increment=True)
            raise


class LoginForm(_Throttled, AuthenticationForm):
    pass


class AdminLoginForm(_Throttled, AdminAuthenticationForm):
    pass
