"""In-process costs of single-stream shortcuts, to decide which still earn their keep.

Issue 9, item 7: a shortcut stays only if it saves at least 0.5 ms on the one-session
first-chunk figure. Each pair below times the shortcut and the plain Django way of
doing the same thing, on the database the environment names (``DATABASE_URL``; run
``manage.py migrate`` on it first), medians of many runs:

- the open-session check and bump: plain SQL vs the ORM's ``update()``;
- the history window: plain SQL vs the ORM's queryset;
- a full garbage collection with and without ``gc.freeze()`` of what start-up loaded;
- on PostgreSQL, a read from async code through ``run_db`` (thread pool, Django's pool)
  and through psycopg's async pool, alone and 100 at once.

Usage: ``DATABASE_URL=postgres://… .venv/bin/python -m bench.reply_path``
"""

from __future__ import annotations

import asyncio
import gc
import os
import statistics
import time
from collections.abc import Callable
from typing import Any

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.utils import timezone  # noqa: E402

from conversations.models import ChatSession, Message, MessageStatus, Role, SessionStatus  # noqa: E402
from conversations.selectors import history_window  # noqa: E402
from conversations.services import _session_touch, message_append  # noqa: E402
from counseling.services import session_start  # noqa: E402

RUNS = 300


def median_ms(fn: Callable[[], object], runs: int = RUNS) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


_TOUCH_SQL = f"UPDATE {ChatSession._meta.db_table} SET last_activity_at = %s WHERE id = %s AND status <> %s"


def plain_touch(session: ChatSession) -> bool:
    """The plain-SQL bump the reply path used until issue 9 (it saved 0.1 ms: removed)."""
    now = ChatSession._meta.get_field("last_activity_at").get_db_prep_save(timezone.now(), connection)
    with connection.cursor() as cursor:
        cursor.execute(_TOUCH_SQL, [now, session.pk, SessionStatus.ENDED.value])
        return cursor.rowcount == 1


def orm_history(session: ChatSession, before_id: int) -> list[tuple[str, str]]:
    rows = (Message.objects.filter(session=session, id__lt=before_id, hidden=False, text__isnull=False)
            .exclude(role=Role.ASSISTANT, status__in=[MessageStatus.FAILED, MessageStatus.BLOCKED,
                                                      MessageStatus.STREAMING])
            .order_by("-created_at", "-id").values_list("role", "text")[:10])
    return list(reversed(rows))


async def thread_pool_vs_async_connection(session: ChatSession, before_id: int) -> tuple[float, float, float, float]:
    """The same history read from an event loop: through ``run_db``, and through psycopg's
    async pool (the other way issue 9 allows for the hot path), alone and 100 at once."""
    from psycopg_pool import AsyncConnectionPool

    from conversations.aio import run_db
    from conversations.selectors import _HIDDEN_REPLIES, _HISTORY_SQL, _TEXT_FIELD

    db = connection.settings_dict
    conninfo = f"host={db['HOST'] or '127.0.0.1'} port={db['PORT'] or 5432} dbname={db['NAME']} user={db['USER']}"
    params = [session.pk, before_id, *_HIDDEN_REPLIES, 10]
    async with AsyncConnectionPool(conninfo, min_size=10, max_size=10, open=False) as pool:
        await pool.open(wait=True)

        async def direct() -> None:
            async with pool.connection() as conn:
                rows = await (await conn.execute(_HISTORY_SQL, params)).fetchall()
            [_TEXT_FIELD.from_db_value(text, None, connection) for _role, text in rows]  # decrypted, as in run_db

        def sync_read() -> None:
            history_window(session=session, limit=10, before_id=before_id)

        async def timed(make: Callable[[], Any], runs: int = 200) -> float:
            times = []
            for _ in range(runs):
                start = time.perf_counter()
                await make()
                times.append((time.perf_counter() - start) * 1000)
            return statistics.median(times)

        async def batch(make: Callable[[], Any]) -> float:
            start = time.perf_counter()
            await asyncio.gather(*(make() for _ in range(100)))
            return (time.perf_counter() - start) * 1000

        for _ in range(20):  # warm both
            await run_db(sync_read)
            await direct()
        one_pool = await timed(lambda: run_db(sync_read))
        one_async = await timed(direct)
        many_pool = statistics.median([await batch(lambda: run_db(sync_read)) for _ in range(5)])
        many_async = statistics.median([await batch(direct) for _ in range(5)])
    return one_pool, one_async, many_pool, many_async


def main() -> None:
    user, _ = get_user_model().objects.get_or_create(username="bench-reply-path")
    session = session_start(user=user)
    for i in range(30):
        message_append(session=session, role=Role.USER if i % 2 == 0 else Role.ASSISTANT, text=f"메시지 {i} " * 20)
    last = Message.objects.filter(session=session).order_by("-id").first()
    assert last is not None
    with transaction.atomic():
        plain = median_ms(lambda: plain_touch(session))
        orm = median_ms(lambda: _session_touch(session=session, ended_ok=False))
    print(f"{connection.vendor}: open-session bump   plain SQL {plain:.3f} ms, ORM {orm:.3f} ms, "
          f"saves {orm - plain:.3f} ms")
    plain = median_ms(lambda: history_window(session=session, limit=10, before_id=last.pk))
    orm = median_ms(lambda: orm_history(session, last.pk))
    print(f"{connection.vendor}: history window      plain SQL {plain:.3f} ms, ORM {orm:.3f} ms, "
          f"saves {orm - plain:.3f} ms")
    if connection.vendor == "postgresql":
        hop = asyncio.run(thread_pool_vs_async_connection(session, last.pk))
        print(f"postgresql: history read from async code, run_db (thread pool, Django's pool) "
              f"{hop[0]:.3f} ms, psycopg AsyncConnectionPool {hop[1]:.3f} ms (one at a time); "
              f"100 at once: {hop[2]:.1f} ms vs {hop[3]:.1f} ms for the batch")
    session.delete()

    import config.asgi  # noqa: F401 - what a server process has loaded (and, at its end, frozen)

    frozen = median_ms(gc.collect, 20)
    gc.unfreeze()
    thawed = median_ms(gc.collect, 20)
    print(f"full gc.collect() after start-up: {thawed:.2f} ms without gc.freeze(), {frozen:.2f} ms with it")


if __name__ == "__main__":
    main()
