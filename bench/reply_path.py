"""In-process costs of single-stream shortcuts, to decide which still earn their keep.

Issue 9, item 7: a shortcut stays only if it saves at least 0.5 ms on the one-session
first-chunk figure. Each pair below times the shortcut and the plain Django way of
doing the same thing, on the database the environment names (``DATABASE_URL``; run
``manage.py migrate`` on it first), medians of many runs:

- the open-session check and bump: plain SQL vs the ORM's ``update()``;
- the history window: plain SQL vs the ORM's queryset;
- a full garbage collection with and without ``gc.freeze()`` of what start-up loaded.

Usage: ``DATABASE_URL=postgres://… .venv/bin/python -m bench.reply_path``
"""

from __future__ import annotations

import gc
import os
import statistics
import time
from collections.abc import Callable

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.utils import timezone  # noqa: E402

from conversations.models import ChatSession, Message, MessageStatus, Role, SessionStatus  # noqa: E402
from conversations.selectors import history_window  # noqa: E402
from conversations.services import _open_session_touch, message_append  # noqa: E402
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


def main() -> None:
    user, _ = get_user_model().objects.get_or_create(username="bench-reply-path")
    session = session_start(user=user)
    for i in range(30):
        message_append(session=session, role=Role.USER if i % 2 == 0 else Role.ASSISTANT, text=f"메시지 {i} " * 20)
    last = Message.objects.filter(session=session).order_by("-id").first()
    assert last is not None
    with transaction.atomic():
        plain = median_ms(lambda: plain_touch(session))
        orm = median_ms(lambda: _open_session_touch(session=session))
    print(f"{connection.vendor}: open-session bump   plain SQL {plain:.3f} ms, ORM {orm:.3f} ms, "
          f"saves {orm - plain:.3f} ms")
    plain = median_ms(lambda: history_window(session=session, limit=10, before_id=last.pk))
    orm = median_ms(lambda: orm_history(session, last.pk))
    print(f"{connection.vendor}: history window      plain SQL {plain:.3f} ms, ORM {orm:.3f} ms, "
          f"saves {orm - plain:.3f} ms")
    session.delete()

    import config.asgi  # noqa: F401 - what a server process has loaded (and, at its end, frozen)

    frozen = median_ms(gc.collect, 20)
    gc.unfreeze()
    thawed = median_ms(gc.collect, 20)
    print(f"full gc.collect() after start-up: {thawed:.2f} ms without gc.freeze(), {frozen:.2f} ms with it")


if __name__ == "__main__":
    main()
