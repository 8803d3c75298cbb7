"""Reads for staff: transcript exports and response-quality statistics.

Percentiles are computed in Python rather than in SQL so the same numbers come out of
SQLite and PostgreSQL (SQLite has no percentile function, and PostgreSQL's
``percentile_cont`` would make the two modes disagree in tests).
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from django.db.models import Exists, OuterRef, Prefetch, Q, QuerySet
from django.utils import timezone

from conversations.models import ChatSession, CounselorNote, Message, MessageStatus, Product, Role
from conversations.selectors import session_messages

# --- Transcript export --------------------------------------------------------------------

MESSAGE_FIELDS: tuple[str, ...] = (
    "id", "role", "text", "emotion", "status", "error_code", "created_at", "completed_at", "ttfc_ms", "total_ms",
    "model", "prompt_tokens", "completion_tokens", "flags", "flag_detail", "hidden", "reviewed_at",
    "blocked_text",
)
CSV_COLUMNS: tuple[str, ...] = ("session_key", "product", "username", "session_started_at", *MESSAGE_FIELDS)
# Excel runs a cell starting with one of these as a formula ("CSV injection").
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _iso(value: datetime | None) -> str | None:
    return timezone.localtime(value).isoformat() if value else None


def session_export_meta(session: ChatSession) -> dict[str, Any]:
    return {
        "id": session.pk,
        "key": session.key,
        "product": session.product,
        "username": session.user.get_username() if session.user else None,
        "title": session.title,
        "status": session.status,
        "counselor_id": session.counselor_id,
        "started_at": _iso(session.started_at),
        "ended_at": _iso(session.ended_at),
        "last_activity_at": _iso(session.last_activity_at),
        "flagged": session.flagged,
        "review_state": session.review_state,
        "reviewed_by": session.reviewed_by.get_username() if session.reviewed_by else None,
        "reviewed_at": _iso(session.reviewed_at),
    }


def message_export_row(message: Message) -> dict[str, Any]:
    return {
        "id": message.pk,
        "role": message.role,
        "text": message.content,
        "emotion": message.emotion,
        "status": message.status,
        "error_code": message.error_code or None,
        "created_at": _iso(message.created_at),
        "completed_at": _iso(message.completed_at),
        "ttfc_ms": message.ttfc_ms,
        "total_ms": message.total_ms,
        "model": message.model,
        "prompt_tokens": message.prompt_tokens,
        "completion_tokens": message.completion_tokens,
        "flags": list(message.flags or []),
        "flag_detail": message.flag_detail,
        "hidden": message.hidden,
        "reviewed_at": _iso(message.reviewed_at),
        "blocked_text": message.blocked_text or None,
    }


def transcript_data(session: ChatSession) -> dict[str, Any]:
    messages = [message_export_row(m) for m in session_messages(session=session)]
    data = {"session": {**session_export_meta(session), "message_count": len(messages)}, "messages": messages,
            "notes": [{"author": note.author.get_username(), "text": note.text, "created_at": _iso(note.created_at)}
                      for note in session.notes.all()]}
    if session.product == Product.MAICE:
        from maice.reports import maice_transcript

        # Classification, clarification rounds, answer types and summaries per question.
        data["maice_questions"] = maice_transcript(session)
    return data


def transcript_json(session: ChatSession, *, indent: int | None = 2) -> str:
    return json.dumps(transcript_data(session), ensure_ascii=False, indent=indent)


def csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ";".join(str(item) for item in value)
    text = str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def transcript_csv_rows(session: ChatSession) -> Iterator[list[str]]:
    meta = session_export_meta(session)
    prefix = [meta["key"], meta["product"], meta["username"], meta["started_at"]]
    for message in session_messages(session=session):
        row = message_export_row(message)
        yield [csv_cell(value) for value in prefix + [row[name] for name in MESSAGE_FIELDS]]


def csv_text(rows: Iterable[Sequence[str]], *, header: bool = True, bom: bool = True) -> str:
    """CSV with CRLF line ends and, by default, a UTF-8 BOM so Excel reads Korean right."""
    buffer = io.StringIO()
    if bom:
        buffer.write("\ufeff")
    writer = csv.writer(buffer)
    if header:
        writer.writerow(CSV_COLUMNS)
    writer.writerows(rows)
    return buffer.getvalue()


def transcript_csv(session: ChatSession) -> str:
    return csv_text(transcript_csv_rows(session))


def sessions_for_export(
    *, product: str | None = None, since: date | None = None, until: date | None = None, key: str | None = None
) -> QuerySet[ChatSession]:
    """Sessions by start date (local days, both ends inclusive), messages prefetched in order."""
    qs = ChatSession.objects.select_related("user", "reviewed_by").order_by("started_at", "id")
    if product:
        qs = qs.filter(product=product)
    if key:
        qs = qs.filter(key=key)
    if since:
        qs = qs.filter(started_at__gte=_local_midnight(since))
    if until:
        qs = qs.filter(started_at__lt=_local_midnight(until + timedelta(days=1)))
    return qs.prefetch_related("messages", Prefetch("notes", queryset=CounselorNote.objects.select_related("author")))


def _local_midnight(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def sessions_expired(*, cutoff: datetime) -> QuerySet[ChatSession]:
    """Sessions idle since before ``cutoff``.

    A session's ``last_activity_at`` moves only when the session row is saved, so a
    message written after the cutoff also keeps the session alive.
    """
    recent = Message.objects.filter(session=OuterRef("pk"), created_at__gte=cutoff)
    return ChatSession.objects.filter(last_activity_at__lt=cutoff).exclude(Exists(recent)).order_by("pk")


# --- Response quality ----------------------------------------------------------------------


def percentiles(values: Sequence[float], *qs: float) -> list[float | None]:
    """Linear interpolation between closest ranks (numpy's default, Excel's PERCENTILE.INC),
    one sort for all of ``qs``."""
    if not values:
        return [None] * len(qs)
    ordered = sorted(values)
    found: list[float | None] = []
    for q in qs:
        rank = (len(ordered) - 1) * q
        low = math.floor(rank)
        high = min(low + 1, len(ordered) - 1)
        found.append(ordered[low] + (ordered[high] - ordered[low]) * (rank - low))
    return found


def percentile(values: Sequence[float], q: float) -> float | None:
    return percentiles(values, q)[0]


@dataclass
class DayStats:
    day: date
    replies: int = 0
    ttfc: list[int] = field(default_factory=list, repr=False)
    total: list[int] = field(default_factory=list, repr=False)
    prompt_tokens: int = 0
    completion_tokens: int = 0

    @property
    def ttfc_p50(self) -> float | None:
        return percentile(self.ttfc, 0.50)

    @property
    def ttfc_p95(self) -> float | None:
        return percentile(self.ttfc, 0.95)

    @property
    def total_p50(self) -> float | None:
        return percentile(self.total, 0.50)

    @property
    def total_p95(self) -> float | None:
        return percentile(self.total, 0.95)

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@dataclass
class QualityReport:
    days: list[date]
    # product value -> label, in Product order
    products: dict[str, str]
    # product value -> one DayStats per day in ``days``
    stats: dict[str, list[DayStats]]


def quality_report(*, days: int, today: date | None = None) -> QualityReport:
    """Assistant reply timings and token use per product per local day, ``days`` days back.

    Time to first chunk counts every reply that produced one; total time counts only
    complete replies, because interrupted and failed ones stop early and would pull the
    numbers down; tokens count every reply, since each was billed, and the side calls made
    about a user's message (customs' intent classifier, counseling's risk classifier),
    which are billed to that message.
    """
    today = today or timezone.localdate()
    first = today - timedelta(days=days - 1)
    day_list = [first + timedelta(days=offset) for offset in range(days)]
    products = {value: str(label) for value, label in Product.choices}
    buckets: dict[tuple[str, date], DayStats] = {}
    billed = Q(role=Role.ASSISTANT) | Q(role=Role.USER, prompt_tokens__isnull=False)
    rows = (
        Message.objects.filter(billed, created_at__gte=_local_midnight(first))
        .exclude(status=MessageStatus.STREAMING)
        .values_list("session__product", "created_at", "role", "status", "ttfc_ms", "total_ms",
                     "prompt_tokens", "completion_tokens")
    )
    for product, created_at, role, status, ttfc_ms, total_ms, prompt, completion in rows.iterator(chunk_size=2000):
        day = timezone.localdate(created_at)
        if day > today:
            continue
        stats = buckets.get((product, day))
        if stats is None:
            stats = buckets[(product, day)] = DayStats(day=day)
        if role == Role.ASSISTANT:
            stats.replies += 1
            if ttfc_ms is not None:
                stats.ttfc.append(ttfc_ms)
            if total_ms is not None and status == MessageStatus.COMPLETE:
                stats.total.append(total_ms)
        stats.prompt_tokens += prompt or 0
        stats.completion_tokens += completion or 0
    stats_by_product = {
        product: [buckets.get((product, day)) or DayStats(day=day) for day in day_list] for product in products
    }
    return QualityReport(days=day_list, products=products, stats=stats_by_product)


# --- Chart geometry (drawn as inline SVG by templates/admin/conversations/_line_chart.html) ---


@dataclass
class ChartSeries:
    label: str
    color: str
    dashed: bool
    # Runs of consecutive points; a day without data breaks the line.
    segments: list[str]
    points: list[tuple[float, float, str]]


@dataclass
class LineChart:
    title: str
    width: int
    height: int
    left: int
    top: int
    right: int
    bottom: int
    y_ticks: list[tuple[float, str]]
    x_labels: list[tuple[float, str]]
    series: list[ChartSeries]


def _nice_ceiling(value: float) -> float:
    """The smallest 1/2/5 × 10^n at or above ``value`` (at least 5), so five axis steps stay round."""
    if value <= 5:
        return 5.0
    magnitude = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 5, 10):
        if value <= step * magnitude:
            return float(step * magnitude)
    return float(10 * magnitude)


def format_number(value: float | None) -> str:
    if value is None:
        return "–"
    # Half up, not Python's half-to-even: 12.5 ms reads as 13 everywhere else.
    return f"{math.floor(value + 0.5):,}"


def line_chart(
    *,
    title: str,
    x_labels: Sequence[str],
    series: Sequence[tuple[str, str, bool, Sequence[float | None]]],
    width: int = 760,
    height: int = 260,
) -> LineChart:
    """Pixel coordinates for a line chart; ``series`` is (label, colour, dashed, values)."""
    left, right, top, bottom = 64, width - 16, 16, height - 36
    known = [v for _, _, _, values in series for v in values if v is not None]
    y_max = _nice_ceiling(max(known, default=0))
    count = max(len(x_labels), 1)
    step = (right - left) / max(count - 1, 1)

    def x_at(index: int) -> float:
        return round(left + (step * index if count > 1 else (right - left) / 2), 1)

    def y_at(value: float) -> float:
        return round(bottom - (bottom - top) * value / y_max, 1)

    built = []
    for label, color, dashed, values in series:
        segments: list[str] = []
        run: list[str] = []
        points = []
        for index, value in enumerate(values):
            if value is None:
                if run:
                    segments.append(" ".join(run))
                run = []
                continue
            x, y = x_at(index), y_at(value)
            run.append(f"{x},{y}")
            points.append((x, y, f"{label} {x_labels[index]}: {format_number(value)}"))
        if run:
            segments.append(" ".join(run))
        built.append(ChartSeries(label=label, color=color, dashed=dashed, segments=segments, points=points))
    y_ticks = [(y_at(y_max * i / 5), format_number(y_max * i / 5)) for i in range(6)]
    # At most about eight x labels, so long ranges stay readable.
    every = max(1, math.ceil(count / 8))
    labels = [(x_at(i), text) for i, text in enumerate(x_labels) if i % every == 0 or i == count - 1]
    return LineChart(title=title, width=width, height=height, left=left, top=top, right=right, bottom=bottom,
                     y_ticks=y_ticks, x_labels=labels, series=built)


PRODUCT_COLORS: dict[str, str] = {"counseling": "#1b7f79", "maice": "#c2571a", "customs": "#3d5a98"}


@dataclass
class QualitySection:
    key: str
    title: str
    chart: LineChart
    columns: list[str]
    rows: list[list[str]]


def quality_sections(report: QualityReport) -> list[QualitySection]:
    """The quality page's charts, each with the table of the numbers it draws."""
    x_labels = [day.strftime("%m-%d") for day in report.days]
    sections = []
    timings = (
        ("ttfc", "첫 응답까지 걸린 시간 (ms, p50 실선 · p95 점선)", "ttfc"),
        ("total", "전체 응답 시간 (ms, 완료된 응답, p50 실선 · p95 점선)", "total"),
    )
    for key, title, attr in timings:
        # Per product, per day: [p50, p95], each day's timings sorted once.
        quantiles = {product: [percentiles(getattr(s, attr), 0.50, 0.95) for s in report.stats[product]]
                     for product in report.products}
        series: list[tuple[str, str, bool, list[float | None]]] = []
        columns = ["날짜"]
        for product, label in report.products.items():
            color = PRODUCT_COLORS.get(product, "#555555")
            series.append((f"{label} p50", color, False, [p50 for p50, _ in quantiles[product]]))
            series.append((f"{label} p95", color, True, [p95 for _, p95 in quantiles[product]]))
            columns += [f"{label} p50", f"{label} p95", f"{label} 건수"]
        rows = []
        for index, day in enumerate(report.days):
            row = [day.isoformat()]
            for product in report.products:
                p50, p95 = quantiles[product][index]
                row += [format_number(p50), format_number(p95), str(len(getattr(report.stats[product][index], attr)))]
            rows.append(row)
        chart = line_chart(title=title, x_labels=x_labels, series=series)
        sections.append(QualitySection(key=key, title=title, chart=chart, columns=columns, rows=rows))

    token_series: list[tuple[str, str, bool, list[float | None]]] = []
    token_columns = ["날짜"]
    for product, label in report.products.items():
        stats = report.stats[product]
        token_series.append((label, PRODUCT_COLORS.get(product, "#555555"), False,
                             [float(s.tokens) if s.replies else None for s in stats]))
        token_columns += [f"{label} 입력", f"{label} 출력", f"{label} 합계"]
    token_rows = []
    for index, day in enumerate(report.days):
        row = [day.isoformat()]
        for product in report.products:
            stats_day = report.stats[product][index]
            row += [format_number(stats_day.prompt_tokens), format_number(stats_day.completion_tokens),
                    format_number(stats_day.tokens)]
        token_rows.append(row)
    title = "토큰 사용량 (입력 + 출력)"
    sections.append(QualitySection(key="tokens", title=title, columns=token_columns, rows=token_rows,
                                   chart=line_chart(title=title, x_labels=x_labels, series=token_series)))
    sections += [_product_section(report, product, label, x_labels) for product, label in report.products.items()
                 if any(s.replies for s in report.stats[product])]
    return sections


def _product_section(report: QualityReport, product: str, label: str, x_labels: list[str]) -> QualitySection:
    """One product's own chart: both timings on one axis, so a slow day stands out per product."""
    stats = report.stats[product]
    ttfc = [percentiles(s.ttfc, 0.50, 0.95) for s in stats]
    total = [percentiles(s.total, 0.50, 0.95) for s in stats]
    title = f"{label}: 첫 응답 · 전체 응답 시간 (ms, p50 실선 · p95 점선)"
    series: list[tuple[str, str, bool, list[float | None]]] = [
        ("첫 응답 p50", PRODUCT_COLORS.get(product, "#555555"), False, [p50 for p50, _ in ttfc]),
        ("첫 응답 p95", PRODUCT_COLORS.get(product, "#555555"), True, [p95 for _, p95 in ttfc]),
        ("전체 p50", "#888888", False, [p50 for p50, _ in total]),
        ("전체 p95", "#888888", True, [p95 for _, p95 in total]),
    ]
    rows = [[day.isoformat(), *(format_number(v) for v in (*ttfc[i], *total[i])), str(stats[i].replies),
             format_number(stats[i].tokens)] for i, day in enumerate(report.days)]
    columns = ["날짜", "첫 응답 p50", "첫 응답 p95", "전체 p50", "전체 p95", "응답 수", "토큰"]
    return QualitySection(key=f"product-{product}", title=title, columns=columns, rows=rows,
                          chart=line_chart(title=title, x_labels=x_labels, series=series))
