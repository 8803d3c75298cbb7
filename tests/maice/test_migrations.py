"""The migrations that encrypt what the tutor wrote about a question, on rows written before them."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.db import connection

from tests.migrations import migrate_latest, migrate_to

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = [("conversations", "0004_transcriptaccess_preview"), ("maice", "0002_request_asked")]
AFTER = [("conversations", "0005_encrypt_session_title"), ("maice", "0003_encrypt_tutor_texts")]


def _raw(sql: str) -> tuple[Any, ...]:
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return tuple(cursor.fetchone())


def test_rows_from_before_are_encrypted_and_read_back_the_same() -> None:
    old = migrate_to(BEFORE)
    session = old.get_model("conversations", "ChatSession").objects.create(key="maice_m1", product="maice",
                                                                            title="이차함수 그래프")
    message = old.get_model("conversations", "Message")
    asked = message.objects.create(session=session, role="user", text="x")
    question = old.get_model("maice", "MaiceQuestion").objects.create(
        session=session, asked=asked, mode="agent", reasoning="이차함수 그래프를 묻는다", title="이차함수 그래프",
        key_concepts=["꼭짓점", "축"])
    old.get_model("maice", "MaiceClarification").objects.create(
        question=question, round=1, asked=message.objects.create(session=session, role="assistant", text="y"),
        questions=["어떤 함수인가요?"])
    untitled = old.get_model("conversations", "ChatSession").objects.create(key="maice_m2", product="maice")
    try:
        new = migrate_to(AFTER)
        raw = " ".join(map(str, (*_raw("SELECT title FROM conversations_chatsession WHERE key = 'maice_m1'"),
                                 *_raw("SELECT reasoning, title, key_concepts FROM maice_maicequestion"),
                                 *_raw("SELECT questions FROM maice_maiceclarification"))))
        assert "이차함수" not in raw and "꼭짓점" not in raw and "어떤 함수" not in raw
        stored = new.get_model("maice", "MaiceQuestion").objects.get()
        assert (stored.reasoning, stored.title, stored.key_concepts) == ("이차함수 그래프를 묻는다", "이차함수 그래프",
                                                                         ["꼭짓점", "축"])
        assert new.get_model("maice", "MaiceClarification").objects.get().questions == ["어떤 함수인가요?"]
        sessions = new.get_model("conversations", "ChatSession").objects
        assert (sessions.get(key="maice_m1").title, sessions.get(pk=untitled.pk).title) == ("이차함수 그래프", "")

        back = migrate_to(BEFORE)  # and back again: plain text and JSON
        assert _raw("SELECT title FROM conversations_chatsession WHERE key = 'maice_m1'") == ("이차함수 그래프",)
        assert json.loads(str(_raw("SELECT questions FROM maice_maiceclarification")[0])) == ["어떤 함수인가요?"]
        assert back.get_model("maice", "MaiceQuestion").objects.get().key_concepts == ["꼭짓점", "축"]
    finally:
        migrate_latest()
