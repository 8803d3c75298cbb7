"""The migrations that encrypt customs' JSON columns, on rows written before them."""

from __future__ import annotations

import json
import uuid

import pytest
from django.db import connection

from tests.migrations import migrate_latest, migrate_to

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = [("customs", "0003_customs_session_proxy"), ("hs", "0001_nomenclature_examples_results")]
AFTER = [("customs", "0004_alter_intentrecord_entities"), ("hs", "0002_alter_hsclassification_body")]


def _raw(table: str, column: str) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {column} FROM {table}")
        return str(cursor.fetchone()[0])


def test_rows_from_before_are_encrypted_and_read_back_the_same() -> None:
    old = migrate_to(BEFORE)
    session = old.get_model("conversations", "ChatSession").objects.create(key=str(uuid.uuid4()), product="customs")
    message = old.get_model("conversations", "Message").objects.create(session=session, role="user", text="x")
    entities = {"product": "무선 블루투스 이어폰", "cargo_numbers": ["CSQU3054383"]}
    body = {"type": "classification_result", "message": "무선 이어폰은 제8518호", "confidence_score": 0.92,
            "completed": True}
    old.get_model("customs", "IntentRecord").objects.create(session=session, message=message, intent="general_chat",
                                                             confidence=0.9, method="rules", entities=entities)
    old.get_model("hs", "HSClassification").objects.create(session=session, stage="classification",
                                                            response_type="classification_result", body=body)
    try:
        new = migrate_to(AFTER)
        assert "이어폰" not in _raw("customs_intentrecord", "entities")
        assert "이어폰" not in _raw("hs_hsclassification", "body")
        # Types survive (the library's per-leaf JSON encryption would turn 0.92 into "0.92").
        assert new.get_model("customs", "IntentRecord").objects.get().entities == entities
        assert new.get_model("hs", "HSClassification").objects.get().body == body

        back = migrate_to(BEFORE)  # and back again: plain JSON
        assert json.loads(_raw("hs_hsclassification", "body")) == body
        assert back.get_model("customs", "IntentRecord").objects.get().entities == entities
    finally:
        migrate_latest()
