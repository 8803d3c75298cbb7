from __future__ import annotations

from django.apps import AppConfig


class CustomsConfig(AppConfig):
    """Customs assistant: its chat API arrives in a later issue (shared/spec/customs.md)."""

    name = "customs"
    verbose_name = "관세 무역 도우미"
