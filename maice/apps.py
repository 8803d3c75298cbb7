from __future__ import annotations

from django.apps import AppConfig


class MaiceConfig(AppConfig):
    """MAICE math tutor: its SSE API and agent arrive in the next issue (shared/spec/maice.md)."""

    name = "maice"
    verbose_name = "MAICE 수학 튜터"
