"""One idle connection per SQLite file, held for the life of the process.

``CONN_MAX_AGE=0`` opens and closes a connection for every database call. In WAL mode
the last connection to close checkpoints the WAL and deletes it and the shared-memory
file, and the next call recreates both: about 1.5 ms per call (the commit and close
costs drop roughly tenfold with this connection open), twice on the way to a reply's
first token. SQLite still checkpoints on its own every 1000 pages.

The embedded default only; PostgreSQL has its connection pool.
"""

from __future__ import annotations

import atexit
import os
import sqlite3
import threading
from typing import Any

from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.sqlite3.creation import DatabaseCreation

_keepers: dict[str, tuple[int, sqlite3.Connection]] = {}
_lock = threading.Lock()


def sqlite_wal_keep(sender: Any, connection: BaseDatabaseWrapper, **kwargs: Any) -> None:
    """``connection_created`` receiver."""
    if connection.vendor != "sqlite":
        return
    name = str(connection.settings_dict["NAME"])
    if name in _keepers or DatabaseCreation.is_in_memory_db(name):
        return
    with _lock:
        if name in _keepers:
            return
        keeper = sqlite3.connect(name, check_same_thread=False, isolation_level=None)
        keeper.execute("SELECT count(*) FROM sqlite_master").fetchall()  # attaches to the WAL
        _keepers[name] = (os.getpid(), keeper)


@atexit.register
def sqlite_keepers_close() -> None:
    """Let go of the files: the last clean close removes the WAL.

    Call it before deleting a database file (the test runner does): a WAL left next
    to a deleted database would be replayed into the next file of that name.
    """
    with _lock:
        for pid, keeper in _keepers.values():
            if pid == os.getpid():  # a forked child leaves its parent's files alone
                keeper.close()
        _keepers.clear()
