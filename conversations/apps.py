from __future__ import annotations

from django.apps import AppConfig
from django.core import checks
from django.db.backends.signals import connection_created


class ConversationsConfig(AppConfig):
    name = "conversations"
    verbose_name = "대화 기록"

    def ready(self) -> None:
        from config.middleware import middleware_check
        from conversations.alerts import notifiers_connect
        from conversations.sqlite import sqlite_wal_keep

        checks.register(middleware_check, checks.Tags.security, deploy=True)
        notifiers_connect()
        connection_created.connect(sqlite_wal_keep, dispatch_uid="conversations.sqlite_wal_keep")
