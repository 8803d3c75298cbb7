"""export_transcripts, purge_expired_sessions and reencrypt_messages, run as operators run them."""

from __future__ import annotations

import csv
import getpass
import io
import json
import socket
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.utils import timezone

from conversations.models import (
    ChatSession,
    CounselorNote,
    Message,
    MessageStatus,
    ModerationAction,
    Product,
    Role,
    TranscriptAccess,
)
from conversations.moderation import encryption_keys_reset, note_add
from conversations.services import message_append
from customs.hs.models import HSClassification, Stage
from maice.models import MaiceQuestion, Mode

pytestmark = pytest.mark.django_db


def _session(user: Any = None, product: str = Product.COUNSELING, started: datetime | None = None) -> ChatSession:
    session = ChatSession.objects.create(key=f"sess_{uuid4().hex[:12]}", product=product, user=user)
    if started:
        ChatSession.objects.filter(pk=session.pk).update(started_at=started)
    return session


def _run(*args: Any) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def _raw(table: str, column: str, pk: int) -> str | None:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {column} FROM {table} WHERE id = %s", [pk])
        return cursor.fetchone()[0]


def _local(year: int, month: int, day: int) -> datetime:
    return timezone.make_aware(datetime(year, month, day, 12))


# --- export_transcripts --------------------------------------------------------------------------


def test_export_json_to_stdout_is_a_parsable_array_and_audited(user: Any) -> None:
    first, second = _session(user), _session(user, product=Product.CUSTOMS)
    message_append(session=first, role=Role.USER, text="불안해요", emotion="anxious")
    message_append(session=first, role=Role.ASSISTANT, text="그러셨군요")

    out, err = _run("export_transcripts")

    data = json.loads(out)
    assert [item["session"]["key"] for item in data] == [first.key, second.key]
    assert [m["text"] for m in data[0]["messages"]] == ["불안해요", "그러셨군요"]
    assert "Exported 2 session(s) as json to stdout." in err
    rows = set(TranscriptAccess.objects.values_list("session_id", "kind", "staff_id"))
    assert rows == {(first.pk, "export_command", None), (second.pk, "export_command", None)}


def test_an_export_records_who_ran_it(user: Any, make_user: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    session, staff = _session(user), make_user("counselor", is_staff=True)
    monkeypatch.delenv("SUDO_USER", raising=False)
    host_login = f"{getpass.getuser()}@{socket.gethostname()}"

    _run("export_transcripts")
    _run("export_transcripts", "--operator", staff.username)
    monkeypatch.setenv("SUDO_USER", "counselor-kim")
    _run("export_transcripts")

    rows = list(TranscriptAccess.objects.order_by("pk").values_list("session_id", "staff_id", "operator"))
    assert rows == [(session.pk, None, host_login), (session.pk, staff.pk, host_login),
                    (session.pk, None, f"counselor-kim@{socket.gethostname()}")]


def test_an_export_refuses_an_operator_who_is_not_staff(user: Any) -> None:
    _session(user)
    for name in (user.username, "nobody"):
        with pytest.raises(CommandError, match=f"--operator '{name}' is not an active staff account"):
            _run("export_transcripts", "--operator", name)
    assert not TranscriptAccess.objects.exists()


def test_export_jsonl_filters_by_product_and_start_days(user: Any) -> None:
    _session(user, started=_local(2025, 1, 9))
    inside = _session(user, started=_local(2025, 1, 10))
    last_day = _session(user, started=_local(2025, 1, 12))
    _session(user, product=Product.MAICE, started=_local(2025, 1, 11))
    _session(user, started=_local(2025, 1, 13))

    out, _ = _run("export_transcripts", "--format", "jsonl", "--product", "counseling",
                  "--since", "2025-01-10", "--until", "2025-01-12")

    lines = out.strip().splitlines()
    assert [json.loads(line)["session"]["key"] for line in lines] == [inside.key, last_day.key]
    assert TranscriptAccess.objects.count() == 2


def test_export_one_session_as_csv_file_for_excel(user: Any, tmp_path: Path) -> None:
    wanted, other = _session(user), _session(user)
    message_append(session=wanted, role=Role.USER, text="회사 일이 너무 많아요")
    message_append(session=other, role=Role.USER, text="다른 세션")
    target = tmp_path / "out.csv"

    out, err = _run("export_transcripts", "--session", wanted.key, "--format", "csv", "--output", str(target))

    raw = target.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))
    assert [(row["session_key"], row["text"]) for row in rows] == [(wanted.key, "회사 일이 너무 많아요")]
    assert out == ""
    assert f"to {target}" in err
    assert list(tmp_path.iterdir()) == [target]
    assert target.stat().st_mode & 0o077 == 0


def test_export_progress_goes_to_stderr(user: Any) -> None:
    for _ in range(3):
        _session(user)
    out, err = _run("export_transcripts", "--format", "jsonl", "--batch-size", "1")
    assert len(out.strip().splitlines()) == 3
    assert "Exporting sessions [##########....................] 1/3" in err
    assert "3/3" in err


@pytest.mark.parametrize(("args", "message"), [
    (["--since", "2025-13-01"], "Invalid date '2025-13-01'"),
    (["--until", "01/02/2025"], "use YYYY-MM-DD"),
    (["--since", "2025-02-02", "--until", "2025-02-01"], "--since must not be after --until"),
    (["--session", "sess_missing"], "No session with key 'sess_missing'"),
    (["--until", "9999-12-31"], "the year must be between 1900 and 9998"),
    (["--since", "0001-01-01"], "the year must be between 1900 and 9998"),
    (["--format", "xml"], "invalid choice: 'xml'"),
    (["--product", "chess"], "invalid choice: 'chess'"),
    (["--output", "/nonexistent-dir/x.json"], "does not exist"),
    (["--batch-size", "0"], "--batch-size must be at least 1"),
])
def test_export_rejects_bad_input_clearly(args: list[str], message: str) -> None:
    with pytest.raises(CommandError, match=message.replace("(", r"\(")):
        _run("export_transcripts", *args)
    assert not TranscriptAccess.objects.exists()


def test_export_of_a_session_under_another_product_says_so(user: Any) -> None:
    counseling = _session(user)
    with pytest.raises(CommandError, match=f"Session '{counseling.key}' is a counseling session, not maice"):
        _run("export_transcripts", "--session", counseling.key, "--product", "maice")


def test_export_of_nothing_is_still_valid_json() -> None:
    out, err = _run("export_transcripts", "--product", "maice")
    assert json.loads(out) == []
    assert "Exported 0 session(s)" in err


def test_export_to_a_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="is a directory"):
        _run("export_transcripts", "--output", str(tmp_path))


# --- purge_expired_sessions ------------------------------------------------------------------------


@pytest.fixture
def aged(user: Any, make_user: Any) -> dict[str, ChatSession]:
    """Sessions idle for 400 days (one with a note and audit rows), 100 days, and one with a fresh message."""
    now = timezone.now()
    old, recent, revived = _session(user), _session(user), _session(user)
    message_append(session=old, role=Role.USER, text="오래된 대화")
    note_add(session=old, author=make_user("counselor", is_staff=True), text="메모")
    TranscriptAccess.objects.create(session=old, kind=TranscriptAccess.Kind.VIEW)
    message_append(session=revived, role=Role.USER, text="오늘 다시 왔어요")
    ChatSession.objects.filter(pk__in=[old.pk, revived.pk]).update(last_activity_at=now - timedelta(days=400))
    Message.objects.filter(session=old).update(created_at=now - timedelta(days=400))
    ChatSession.objects.filter(pk=recent.pk).update(last_activity_at=now - timedelta(days=100))
    return {"old": old, "recent": recent, "revived": revived}


def test_purge_dry_run_only_counts(aged: dict[str, ChatSession]) -> None:
    out, _ = _run("purge_expired_sessions", "--dry-run")
    assert "Dry run: 1 session(s)" in out
    assert ChatSession.objects.count() == 3


def test_purge_deletes_sessions_past_retention_with_everything_attached(aged: dict[str, ChatSession]) -> None:
    out, _ = _run("purge_expired_sessions")

    assert "Deleted 1 session(s)" in out
    assert set(ChatSession.objects.values_list("pk", flat=True)) == {aged["recent"].pk, aged["revived"].pk}
    old_pk = aged["old"].pk
    for model in (Message, CounselorNote):
        assert not model.objects.filter(session_id=old_pk).exists(), model
    # Who read or moderated it stays on record, under the purged session's key.
    for model in (ModerationAction, TranscriptAccess):
        assert list(model.objects.values_list("session_id", "session_key")) == [(None, aged["old"].key)], model


def test_audit_records_are_kept_for_their_own_retention(aged: dict[str, ChatSession], admin_client: Any) -> None:
    _run("purge_expired_sessions")
    page = admin_client.get("/admin/conversations/transcriptaccess/").content.decode()
    assert f"{aged['old'].key} (삭제됨)" in page
    TranscriptAccess.objects.update(created_at=timezone.now() - timedelta(days=2000))
    recent = TranscriptAccess.objects.create(session=aged["recent"], kind=TranscriptAccess.Kind.VIEW)
    out, _ = _run("purge_expired_sessions", "--dry-run")
    assert "and 1 audit record(s) written before" in out
    out, _ = _run("purge_expired_sessions", "--audit-days", "1825")
    assert "Deleted 1 audit record(s)" in out
    assert list(TranscriptAccess.objects.values_list("pk", flat=True)) == [recent.pk]
    assert ModerationAction.objects.count() == 1  # the note's, written today


def test_purge_uses_the_retention_setting_and_days_option(aged: dict[str, ChatSession], settings: Any) -> None:
    settings.SESSION_RETENTION_DAYS = 50
    out, _ = _run("purge_expired_sessions", "--dry-run")
    assert "Dry run: 2 session(s)" in out
    out, err = _run("purge_expired_sessions", "--days", "500", "--batch-size", "1")
    assert "Deleted 0 session(s)" in out
    _, err = _run("purge_expired_sessions", "--days", "30", "--batch-size", "1")
    assert "Deleting sessions [" in err and "2/2" in err
    assert list(ChatSession.objects.values_list("pk", flat=True)) == [aged["revived"].pk]


@pytest.mark.parametrize("args", [["--days", "0"], ["--days", "-3"], ["--batch-size", "0"], ["--days", "x"],
                                  ["--days", "1000000"], ["--audit-days", "0"]])
def test_purge_rejects_bad_input(aged: dict[str, ChatSession], args: list[str]) -> None:
    with pytest.raises(CommandError):
        _run("purge_expired_sessions", *args)
    assert ChatSession.objects.count() == 3


# --- reencrypt_messages ---------------------------------------------------------------------------

SECRET_TEXT = "남편이 010-2222-3333 으로 연락해요"


@pytest.fixture
def fresh_keys(settings: Any) -> Iterator[Any]:
    # The fields cache their derived keys; start and end with keys from the settings in force.
    encryption_keys_reset()
    yield settings
    encryption_keys_reset()


def _first_key_fernet() -> Fernet:
    return Fernet(Message._meta.get_field("text").keys[0])  # type: ignore[attr-defined]


def test_key_rotation_round_trip(user: Any, make_user: Any, fresh_keys: Any) -> None:
    session = _session(user)
    message = message_append(session=session, role=Role.USER, text=SECRET_TEXT)
    message.status, message.blocked_text = MessageStatus.BLOCKED, "차단된 원문"
    message.save(update_fields=["status", "blocked_text"])
    note = note_add(session=session, author=make_user("counselor", is_staff=True), text="상담 메모 내용")
    before = {column: _raw("conversations_message", column, message.pk) for column in ("text", "blocked_text")}
    note_before = _raw("conversations_counselornote", "text", note.pk)
    assert "010-2222-3333" not in before["text"] and "차단된" not in before["blocked_text"]
    assert "상담" not in note_before

    fresh_keys.SALT_KEY = ["conversations-v2", *fresh_keys.SALT_KEY]
    encryption_keys_reset()
    out, err = _run("reencrypt_messages", "--batch-size", "1")

    assert "Re-encrypted 3 value(s)" in out
    assert "Re-encrypting rows [" in err
    after = {column: _raw("conversations_message", column, message.pk) for column in ("text", "blocked_text")}
    note_after = _raw("conversations_counselornote", "text", note.pk)
    assert after["text"] != before["text"] and note_after != note_before
    assert "010-2222-3333" not in after["text"] and "상담" not in note_after
    assert _first_key_fernet().decrypt(after["text"].encode()).decode() == SECRET_TEXT

    # Drop the old salt: only the new key remains, and everything still reads.
    fresh_keys.SALT_KEY = ["conversations-v2"]
    encryption_keys_reset()
    stored = Message.objects.get(pk=message.pk)
    assert (stored.text, stored.blocked_text) == (SECRET_TEXT, "차단된 원문")
    assert CounselorNote.objects.get(pk=note.pk).text == "상담 메모 내용"

    out, _ = _run("reencrypt_messages")
    assert "Re-encrypted 0 value(s)" in out and "3 already used the current key" in out


def test_rotation_covers_the_products_encrypted_fields(user: Any, fresh_keys: Any) -> None:
    session = _session(user, product=Product.MAICE)
    asked = message_append(session=session, role=Role.USER, text="y=x^2 의 꼭짓점")
    question = MaiceQuestion.objects.create(session=session, asked=asked, mode=Mode.AGENT,
                                            improved_question="이차함수 y=x^2 의 꼭짓점은?", summary="꼭짓점 학습",
                                            reasoning="y=x^2 의 꼭짓점을 묻는다", title="y=x^2 꼭짓점",
                                            key_concepts=["꼭짓점"])
    result = HSClassification.objects.create(session=_session(user, product=Product.CUSTOMS),
                                             stage=Stage.CLASSIFICATION, response_type="classification_result",
                                             description="무선 블루투스 이어폰", body={"hscode": "8518.30.0000"})
    fresh_keys.SALT_KEY = ["conversations-v2", *fresh_keys.SALT_KEY]
    encryption_keys_reset()
    out, _ = _run("reencrypt_messages")
    # The message, the question's five, the description, the body.
    assert "Re-encrypted 8 value(s)" in out

    fresh_keys.SALT_KEY = ["conversations-v2"]
    encryption_keys_reset()
    stored = MaiceQuestion.objects.get(pk=question.pk)
    assert (stored.improved_question, stored.summary) == ("이차함수 y=x^2 의 꼭짓점은?", "꼭짓점 학습")
    assert (stored.reasoning, stored.title, stored.key_concepts) == ("y=x^2 의 꼭짓점을 묻는다", "y=x^2 꼭짓점", ["꼭짓점"])
    stored_result = HSClassification.objects.get(pk=result.pk)
    assert (stored_result.description, stored_result.body) == ("무선 블루투스 이어폰", {"hscode": "8518.30.0000"})


def test_secret_key_rotation_via_fallbacks(user: Any, fresh_keys: Any) -> None:
    message = message_append(session=_session(user), role=Role.USER, text=SECRET_TEXT)
    fresh_keys.SECRET_KEY_FALLBACKS = [fresh_keys.SECRET_KEY]
    fresh_keys.SECRET_KEY = "a-brand-new-secret-key-for-this-test-0123456789"
    encryption_keys_reset()

    out, _ = _run("reencrypt_messages")

    assert "Re-encrypted 1 value(s)" in out
    fresh_keys.SECRET_KEY_FALLBACKS = []
    encryption_keys_reset()
    assert Message.objects.get(pk=message.pk).text == SECRET_TEXT


def test_without_reencryption_the_old_key_cannot_be_dropped(user: Any, fresh_keys: Any) -> None:
    message = message_append(session=_session(user), role=Role.USER, text=SECRET_TEXT)
    fresh_keys.SALT_KEY = ["conversations-v2"]
    encryption_keys_reset()
    assert Message.objects.get(pk=message.pk).text != SECRET_TEXT  # the library hands back the token


def test_reencrypt_encrypts_legacy_plain_text_and_dry_run_writes_nothing(user: Any, fresh_keys: Any) -> None:
    message = message_append(session=_session(user), role=Role.USER, text="placeholder")
    with connection.cursor() as cursor:
        cursor.execute("UPDATE conversations_message SET text = %s WHERE id = %s", [SECRET_TEXT, message.pk])

    out, _ = _run("reencrypt_messages", "--dry-run")
    assert "encrypted 1 plain-text value(s)" in out
    assert _raw("conversations_message", "text", message.pk) == SECRET_TEXT

    _run("reencrypt_messages")
    assert "010-2222-3333" not in _raw("conversations_message", "text", message.pk)
    assert Message.objects.get(pk=message.pk).text == SECRET_TEXT


def test_reencrypt_leaves_tokens_no_key_opens_and_fails_loudly(user: Any, fresh_keys: Any) -> None:
    message = message_append(session=_session(user), role=Role.USER, text="placeholder")
    foreign = Fernet(Fernet.generate_key()).encrypt(SECRET_TEXT.encode()).decode()
    with connection.cursor() as cursor:
        cursor.execute("UPDATE conversations_message SET text = %s WHERE id = %s", [foreign, message.pk])

    with pytest.raises(CommandError, match="1 value\\(s\\) could not be decrypted"):
        _run("reencrypt_messages")
    assert _raw("conversations_message", "text", message.pk) == foreign


def test_reencrypt_rejects_a_bad_batch_size() -> None:
    with pytest.raises(CommandError, match="--batch-size must be at least 1"):
        _run("reencrypt_messages", "--batch-size", "0")
