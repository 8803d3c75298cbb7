from __future__ import annotations

from django.apps import AppConfig


class CustomsConfig(AppConfig):
    """Customs trade assistant (shared/spec/customs.md)."""

    name = "customs"
    verbose_name = "관세 무역 도우미"

    def ready(self) -> None:
        from conversations.llm import register_responder
        from conversations.models import Product
        from customs.offline import customs_reply

        register_responder(Product.CUSTOMS, customs_reply)
