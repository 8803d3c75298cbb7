"""The idle SQLite connection that keeps the WAL between database calls."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from conversations.sqlite import sqlite_keepers_close, sqlite_wal_keep


def wal_database(path: Path) -> None:
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("CREATE TABLE t (x)")
    db.close()


def use_once(path: Path) -> None:
    # What every database call does with CONN_MAX_AGE=0: open, write, close.
    db = sqlite3.connect(path)
    with db:
        db.execute("INSERT INTO t VALUES (1)")
    db.close()


def django_connection(path: Path, vendor: str = "sqlite") -> Any:
    return SimpleNamespace(vendor=vendor, settings_dict={"NAME": str(path)})


def test_without_the_idle_connection_every_close_removes_the_wal(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    wal_database(path)
    use_once(path)
    assert not Path(f"{path}-wal").exists()


def test_the_idle_connection_keeps_the_wal_until_released(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    wal_database(path)
    try:
        sqlite_wal_keep(None, connection=django_connection(path))
        sqlite_wal_keep(None, connection=django_connection(path))  # one per file
        use_once(path)
        use_once(path)
        assert Path(f"{path}-wal").exists()
    finally:
        sqlite_keepers_close()
    assert not Path(f"{path}-wal").exists()
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT count(*) FROM t").fetchone() == (2,)
    db.close()


def test_other_databases_and_memory_are_left_alone(tmp_path: Path) -> None:
    sqlite_wal_keep(None, connection=django_connection(tmp_path / "pg", vendor="postgresql"))
    sqlite_wal_keep(None, connection=django_connection(Path(":memory:")))
    assert not (tmp_path / "pg").exists()
    sqlite_keepers_close()
