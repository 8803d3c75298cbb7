"""Reads for staff: export data, percentiles, the per-day quality report and chart geometry."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime, timedelta
from typing import Any
from uuid import uuid4

import pytest
from django.utils import timezone

from conversations.llm import Usage
from conversations.models import ChatSession, Flag, Message, MessageStatus, Product, Role
from conversations.reports import (
    CSV_COLUMNS,
    csv_cell,
    line_chart,
    percentile,
    quality_report,
    quality_sections,
    sessions_expired,
    sessions_for_export,
    transcript_csv,
    transcript_data,
)
from conversations.services import message_append


def _session(user: Any = None, product: str = Product.COUNSELING, **fields: Any) -> ChatSession:
    return ChatSession.objects.create(key=f"sess_{uuid4().hex[:12]}", product=product, user=user, **fields)


def _reply(session: ChatSession, *, at: datetime | None = None, status: str = MessageStatus.COMPLETE,
           **fields: Any) -> Message:
    message = message_append(session=session, role=Role.ASSISTANT, text="답변", status=status)
    Message.objects.filter(pk=message.pk).update(created_at=at or timezone.now(), **fields)
    return message


def _local(year: int, month: int, day: int, hour: int = 12, minute: int = 0) -> datetime:
    return timezone.make_aware(datetime(year, month, day, hour, minute))


# --- percentiles ---------------------------------------------------------------------------


def test_percentile_interpolates_between_ranks() -> None:
    values = [1000, 100, 900, 200, 800, 300, 700, 400, 600, 500]
    assert percentile(values, 0.5) == pytest.approx(550)
    assert percentile(values, 0.95) == pytest.approx(955)
    assert percentile(values, 0.0) == 100
    assert percentile(values, 1.0) == 1000


def test_percentile_of_one_value_and_of_nothing() -> None:
    assert percentile([42], 0.95) == 42
    assert percentile([], 0.5) is None


# --- quality report ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_quality_report_groups_by_product_and_local_day(user: Any) -> None:
    counseling, customs = _session(user), _session(user, product=Product.CUSTOMS)
    for ttfc in (100, 200, 300):
        _reply(counseling, at=_local(2025, 3, 11, 9), ttfc_ms=ttfc, total_ms=ttfc * 10,
               prompt_tokens=10, completion_tokens=5)
    # 00:30 in Seoul is still the previous day in UTC: it belongs to the local day.
    _reply(counseling, at=_local(2025, 3, 10, 0, 30), ttfc_ms=700, total_ms=7000)
    _reply(customs, at=_local(2025, 3, 11), ttfc_ms=50, total_ms=60, prompt_tokens=1, completion_tokens=1)
    _reply(counseling, at=_local(2025, 3, 7), ttfc_ms=9999)  # before the window

    report = quality_report(days=3, today=date(2025, 3, 11))

    assert report.days == [date(2025, 3, 9), date(2025, 3, 10), date(2025, 3, 11)]
    day9, day10, day11 = report.stats[Product.COUNSELING]
    assert (day9.replies, day10.replies, day11.replies) == (0, 1, 3)
    assert (day10.ttfc_p50, day11.ttfc_p50, day11.ttfc_p95) == (700, 200, pytest.approx(290))
    assert day11.total_p50 == 2000
    assert (day11.prompt_tokens, day11.completion_tokens, day11.tokens) == (30, 15, 45)
    assert report.stats[Product.CUSTOMS][2].ttfc_p50 == 50
    assert report.stats[Product.MAICE][2].replies == 0


@pytest.mark.django_db
def test_total_time_counts_only_complete_replies_and_streaming_ones_are_skipped(user: Any) -> None:
    session = _session(user)
    _reply(session, ttfc_ms=100, total_ms=1000)
    _reply(session, status=MessageStatus.INTERRUPTED, ttfc_ms=300, total_ms=50, completion_tokens=7)
    _reply(session, status=MessageStatus.STREAMING, ttfc_ms=5000)
    message_append(session=session, role=Role.USER, text="질문")
    # A classifier's tokens about a user's message are billed to it: counted, but not a reply.
    message_append(session=session, role=Role.USER, text="또 질문", usage=Usage("", 40, 3))

    today = quality_report(days=1).stats[Product.COUNSELING][0]

    assert today.replies == 2
    assert sorted(today.ttfc) == [100, 300]
    assert today.total == [1000]
    assert (today.prompt_tokens, today.completion_tokens) == (40, 10)


@pytest.mark.django_db
def test_quality_sections_tabulate_what_the_charts_draw(user: Any) -> None:
    session = _session(user)
    for value in range(100, 1001, 100):
        _reply(session, ttfc_ms=value, total_ms=value * 2, prompt_tokens=100, completion_tokens=20)

    sections = {s.key: s for s in quality_sections(quality_report(days=2))}

    ttfc = sections["ttfc"]
    assert ttfc.columns[:4] == ["날짜", "상담 p50", "상담 p95", "상담 건수"]
    assert ttfc.rows[-1][:4] == [timezone.localdate().isoformat(), "550", "955", "10"]
    assert ttfc.rows[0][1:4] == ["–", "–", "0"]
    assert sections["total"].rows[-1][1:3] == ["1,100", "1,910"]
    assert sections["tokens"].rows[-1][1:4] == ["1,000", "200", "1,200"]
    counseling_p50 = ttfc.chart.series[0]
    assert counseling_p50.label == "상담 p50" and len(counseling_p50.points) == 1


def test_line_chart_breaks_lines_at_missing_days_and_rounds_the_axis() -> None:
    chart = line_chart(title="t", x_labels=["a", "b", "c", "d"],
                       series=[("s", "#000", False, [10.0, None, 30.0, 43.0])])
    (series,) = chart.series
    assert len(series.segments) == 2
    assert len(series.points) == 3
    assert [label for _, label in chart.y_ticks] == ["0", "10", "20", "30", "40", "50"]
    top_point_y = series.points[-1][1]
    assert chart.top < top_point_y < chart.bottom


# --- exports ---------------------------------------------------------------------------------


@pytest.mark.django_db
def test_transcript_data_lists_messages_in_order_with_their_fields(user: Any) -> None:
    session = _session(user, title="첫 상담")
    first = message_append(session=session, role=Role.USER, text="잠을 못 자요", emotion="sad")
    reply = _reply(session, ttfc_ms=120, total_ms=900, prompt_tokens=50, completion_tokens=30, model="gpt-x",
                   flags=[Flag.OUTPUT_BLOCKED], flagged=True, blocked_text="나쁜 말", hidden=True)

    data = transcript_data(ChatSession.objects.select_related("user").get(pk=session.pk))

    assert data["session"]["key"] == session.key
    assert data["session"]["username"] == "alice"
    assert data["session"]["message_count"] == 2
    assert [m["id"] for m in data["messages"]] == [first.pk, reply.pk]
    user_row, reply_row = data["messages"]
    assert (user_row["role"], user_row["text"], user_row["emotion"]) == ("user", "잠을 못 자요", "sad")
    assert user_row["created_at"].endswith("+09:00")
    assert {k: reply_row[k] for k in ("ttfc_ms", "total_ms", "prompt_tokens", "completion_tokens", "model",
                                      "flags", "hidden", "blocked_text")} == {
        "ttfc_ms": 120, "total_ms": 900, "prompt_tokens": 50, "completion_tokens": 30, "model": "gpt-x",
        "flags": ["output_blocked"], "hidden": True, "blocked_text": "나쁜 말",
    }


def test_csv_cells_cannot_become_excel_formulas() -> None:
    assert csv_cell("=HYPERLINK(\"http://x\")") == "'=HYPERLINK(\"http://x\")"
    assert csv_cell("@SUM(A1)") == "'@SUM(A1)"
    assert csv_cell("괜찮아요 =)") == "괜찮아요 =)"
    assert csv_cell(None) == ""
    assert csv_cell(True) == "true"
    assert csv_cell(["crisis", "input_filtered"]) == "crisis;input_filtered"


@pytest.mark.django_db
def test_transcript_csv_has_bom_header_and_one_row_per_message(user: Any) -> None:
    session = _session(user)
    message_append(session=session, role=Role.USER, text="안녕하세요,\n반가워요")
    message_append(session=session, role=Role.ASSISTANT, text="=1+1")

    body = transcript_csv(session)

    assert body.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(body[1:])))
    assert tuple(rows[0]) == CSV_COLUMNS
    text_at = CSV_COLUMNS.index("text")
    assert [row[text_at] for row in rows[1:]] == ["안녕하세요,\n반가워요", "'=1+1"]
    assert rows[1][0] == session.key


@pytest.mark.django_db
def test_sessions_for_export_filters_by_local_start_day_inclusive(user: Any) -> None:
    early = _session(user)
    on_since = _session(user)
    on_until = _session(user, product=Product.MAICE)
    late = _session(user)
    starts = {early: _local(2025, 1, 31, 23, 59), on_since: _local(2025, 2, 1, 0, 0),
              on_until: _local(2025, 2, 3, 23, 59), late: _local(2025, 2, 4, 0, 0)}
    for session, started in starts.items():
        ChatSession.objects.filter(pk=session.pk).update(started_at=started)

    keys = list(sessions_for_export(since=date(2025, 2, 1), until=date(2025, 2, 3)).values_list("key", flat=True))
    assert keys == [on_since.key, on_until.key]
    only_maice = sessions_for_export(product=Product.MAICE, since=date(2025, 2, 1))
    assert [s.key for s in only_maice] == [on_until.key]


@pytest.mark.django_db
def test_expired_sessions_exclude_ones_with_recent_messages(user: Any) -> None:
    cutoff = timezone.now() - timedelta(days=30)
    stale, busy, fresh = _session(user), _session(user), _session(user)
    message_append(session=busy, role=Role.USER, text="아직 쓰는 중")
    ChatSession.objects.filter(pk__in=[stale.pk, busy.pk]).update(last_activity_at=cutoff - timedelta(days=1))

    assert list(sessions_expired(cutoff=cutoff)) == [stale]
    assert fresh not in sessions_expired(cutoff=cutoff)


@pytest.mark.django_db
def test_each_product_with_replies_gets_its_own_chart(user: Any) -> None:
    session = _session(user)
    _reply(session, ttfc_ms=200, total_ms=900, prompt_tokens=10, completion_tokens=5)
    customs = ChatSession.objects.create(key="c0ffee00-0000-0000-0000-000000000001", product=Product.CUSTOMS)
    _reply(customs, ttfc_ms=40, total_ms=300, prompt_tokens=1, completion_tokens=1)
    sections = {s.key: s for s in quality_sections(quality_report(days=1))}
    assert {"product-counseling", "product-customs"} <= set(sections) and "product-maice" not in sections
    customs_section = sections["product-customs"]
    assert customs_section.title.startswith("관세")
    assert customs_section.rows[-1][1:] == ["40", "40", "300", "300", "1", "2"]
    assert [s.label for s in customs_section.chart.series] == ["첫 응답 p50", "첫 응답 p95", "전체 p50", "전체 p95"]
