"""Edits made outside the loader (admin) bump the data version too."""

from __future__ import annotations

from typing import Any

from django.db.models.signals import post_delete, post_save

from customs.hs.models import HSCode, HSProductExample, HSSection


def _changed(sender: Any, **kwargs: Any) -> None:
    from customs.hs.services import data_version_bump

    data_version_bump()


def connect() -> None:
    for model in (HSSection, HSCode, HSProductExample):
        post_save.connect(_changed, sender=model, dispatch_uid=f"hs.changed.save.{model.__name__}")
        post_delete.connect(_changed, sender=model, dispatch_uid=f"hs.changed.delete.{model.__name__}")
