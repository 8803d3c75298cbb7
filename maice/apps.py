from __future__ import annotations

from django.apps import AppConfig


class MaiceConfig(AppConfig):
    """MAICE math tutor (shared/spec/maice.md)."""

    name = "maice"
    verbose_name = "MAICE 수학 튜터"

    def ready(self) -> None:
        from conversations.llm import register_responder
        from maice.tutor import respond

        register_responder("maice", respond)
