"""Model fields of our own."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from django.db import migrations
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.migrations.state import StateApps
from encrypted_fields.fields import EncryptedCharField, EncryptedTextField


class EncryptedShortText(EncryptedCharField):
    """A short text (a title, a reason) encrypted at rest. An empty value stays "" rather
    than NULL (the library's choice), so the column keeps a CharField's NOT NULL and its
    reads."""

    def get_prep_value(self, value: Any) -> Any:
        if value == "":
            return ""
        return super().get_prep_value(value)


class EncryptedJSONText(EncryptedTextField):
    """A JSON value kept as one encrypted token in a text column.

    For JSON that holds users' words (an HS answer's body, the entities of a message). The
    library's ``EncryptedJSONField`` encrypts each leaf on its own: numbers and booleans
    come back as strings, and ``reencrypt_messages`` could not rewrap it as one token. A
    row written before encryption (plain JSON text) still reads, and that command
    encrypts it.
    """

    def get_prep_value(self, value: Any) -> str | None:
        # Not through TextField's prep: it would run to_python and parse the JSON back.
        if value is None:
            return None
        return self.f.encrypt(json.dumps(value, ensure_ascii=False).encode("utf-8")).decode("utf-8")

    def to_python(self, value: Any) -> Any:
        if not isinstance(value, str):
            return value  # a Python value already (or None)
        text = super().to_python(value)  # decrypted, or plain text from before encryption
        try:
            return json.loads(text)
        except ValueError:
            return text


def encrypt_json_column(app_label: str, model_name: str, name: str) -> migrations.RunPython:
    """The data half of a migration from ``JSONField`` to ``EncryptedJSONText``.

    Forwards, rows written before (plain JSON text, read as it is) are saved back as one
    token; backwards, they are written as plain JSON again (raw SQL: the field would
    encrypt) before the column becomes JSON.
    """
    return _encrypt_column(app_label, model_name, name, plain=lambda value: json.dumps(value, ensure_ascii=False))


def encrypt_text_column(app_label: str, model_name: str, name: str) -> migrations.RunPython:
    """The data half of a migration from a plain text column to an encrypted one: the same,
    with the text written back as it is."""
    return _encrypt_column(app_label, model_name, name, plain=lambda value: value)


def _encrypt_column(app_label: str, model_name: str, name: str,
                    plain: Callable[[Any], Any]) -> migrations.RunPython:
    def forwards(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
        model = apps.get_model(app_label, model_name)
        for row in model.objects.only("pk", name).iterator(chunk_size=500):
            row.save(update_fields=[name])

    def backwards(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
        model = apps.get_model(app_label, model_name)
        table, column = schema_editor.quote_name(model._meta.db_table), schema_editor.quote_name(name)
        with schema_editor.connection.cursor() as cursor:
            for row in model.objects.only("pk", name).iterator(chunk_size=500):
                cursor.execute(f"UPDATE {table} SET {column} = %s WHERE id = %s", [plain(getattr(row, name)), row.pk])
            if schema_editor.connection.vendor == "postgresql":
                # The updates queue deferred foreign-key checks, and PostgreSQL refuses to
                # ALTER a table with checks pending; the column's ALTER comes next.
                cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")

    return migrations.RunPython(forwards, backwards)
