from __future__ import annotations

from django.apps import AppConfig
from django.db.backends.signals import connection_created


class ConversationsConfig(AppConfig):
    name = "conversations"
    verbose_name = "대화 기록"

    def ready(self) -> None:
        from conversations.alerts import notifiers_connect
        from conversations.sqlite import sqlite_wal_keep

        notifiers_connect()
        connection_created.connect(sqlite_wal_keep, dispatch_uid="conversations.sqlite_wal_keep")
