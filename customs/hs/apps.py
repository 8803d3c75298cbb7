from __future__ import annotations

from django.apps import AppConfig


class HsConfig(AppConfig):
    """HS-code classification of the customs assistant: nomenclature, retrieval, stages."""

    name = "customs.hs"
    label = "hs"
    verbose_name = "HS 품목분류"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from customs.hs import signals

        signals.connect()
