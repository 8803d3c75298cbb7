"""PII masking of free text and of log records (no Django needed)."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest

from conversations.pii import PIIMaskingFilter, mask_pii, preview


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # Resident / foreigner registration numbers, with glued particles.
        ("주민번호는 900101-1234567이에요", "주민번호는 [RRN]이에요"),
        ("주민번호는900101-1234567이에요", "주민번호는[RRN]이에요"),
        ("9001011234567을 입력했어요", "[RRN]을 입력했어요"),
        ("900101 - 2234567", "[RRN]"),
        ("외국인등록번호 850315-5123456입니다", "외국인등록번호 [RRN]입니다"),
        # Mobile phones in every common spelling.
        ("010-1234-5678로 연락 주세요", "[PHONE]로 연락 주세요"),
        ("번호는01012345678이에요", "번호는[PHONE]이에요"),
        ("010.1234.5678으로", "[PHONE]으로"),
        ("010 1234 5678에게", "[PHONE]에게"),
        ("011-123-4567을 써요", "[PHONE]을 써요"),
        ("+82 10-1234-5678", "[PHONE]"),
        ("+821012345678로", "[PHONE]로"),
        # Landlines.
        ("집 전화는 02-123-4567입니다", "집 전화는 [PHONE]입니다"),
        ("031-1234-5678에", "[PHONE]에"),
        ("(02) 1234-5678", "[PHONE]"),
        # E-mail.
        ("메일은 hong.gildong+cbt@naver.com으로 보내요", "메일은 [EMAIL]으로 보내요"),
        ("연락처:abc_1@example.co.kr", "연락처:[EMAIL]"),
        # Cards: 4-4-4-4 always, bare runs only when Luhn-valid.
        ("카드 1234-5678-9012-3456로 결제", "카드 [CARD]로 결제"),
        ("1234 5678 9012 3456", "[CARD]"),
        ("카드번호4111111111111111입니다", "카드번호[CARD]입니다"),
        ("3782 822463 10005", "[CARD]"),
        # Passports, old and new format.
        ("여권번호는 M12345678이에요", "여권번호는 [PASSPORT]이에요"),
        ("여권 M123A4567를", "여권 [PASSPORT]를"),
        # Driver's licences.
        ("면허번호 11-22-333333-44입니다", "면허번호 [LICENSE]입니다"),
        ("서울 12-345678-90", "서울 [LICENSE]"),
        # Bank accounts.
        ("계좌 110-123-456789로 보내 주세요", "계좌 [ACCOUNT]로 보내 주세요"),
        ("1002-123-456789", "[ACCOUNT]"),
        ("123-456789-01-001에", "[ACCOUNT]에"),
        ("3333-01-1234567", "[ACCOUNT]"),
        # Personal customs clearance code.
        ("통관부호 P123456789012입니다", "통관부호 [CUSTOMS_ID]입니다"),
        # Secrets.
        ("Authorization: Bearer abc.def-123", "Authorization: [TOKEN]"),
        ("{'Authorization': 'Bearer abc123'}", "{'Authorization': '[TOKEN]'}"),
        ("header Bearer eyJabc.def", "header Bearer [TOKEN]"),
        ("GET /ws/chat?token=abcd1234&lang=ko", "GET /ws/chat?token=[TOKEN]&lang=ko"),
        ("access_token=xyz&x=1", "access_token=[TOKEN]&x=1"),
        ("cookie: sessionid=k3j4h5g6f7; csrftoken=Zx9", "cookie: sessionid=[TOKEN]; csrftoken=[TOKEN]"),
        ("key sk-proj-abcdefghijklmnopqrstuvwx", "key [TOKEN]"),
        ("jwt eyJhbGciOi.eyJzdWIiOi.c2lnbmF0dXJl", "jwt [TOKEN]"),
    ],
)
def test_mask_pii_masks_personal_data(text: str, expected: str) -> None:
    assert mask_pii(text) == expected


def test_mask_pii_masks_several_items_in_a_long_sentence() -> None:
    text = "제 이름은 홍길동이고 전화는 010-9876-5432, 메일은 gd@daum.net, 주민번호는 020304-3123456이에요."
    assert mask_pii(text) == "제 이름은 홍길동이고 전화는 [PHONE], 메일은 [EMAIL], 주민번호는 [RRN]이에요."


@pytest.mark.parametrize(
    "text",
    [
        "오늘은 2025-01-10이고 회의는 14:30에 시작해요",
        "2025.01.10 오후 3시",
        "가격은 12,000원이고 2025년에 샀어요",
        "세션 sess_01HX9001011234567 에서 오류",
        "sess_abc123def456",
        "비밀번호 없이 1234만 입력했어요",
        "HS 코드 8517.13 또는 851713, 8517.13-0000",
        "컨테이너 MSCU1234565 도착",
        "대표번호 1588-1234, 정신건강위기상담전화 1577-0199, 자살예방상담전화 109",
        "수신자부담 080-123-4567",
        "사업자등록번호 123-45-67890",
        "수입신고번호 12345-25-123456M",
        "주문번호 4111111111111112",
        "원주율 3.1415926535897932",
        "max_tokens=512 temperature=0.7",
        "2025-01-10-1234 배치",
        "",
    ],
)
def test_mask_pii_leaves_ordinary_text_alone(text: str) -> None:
    assert mask_pii(text) == text


def test_mask_pii_is_idempotent() -> None:
    once = mask_pii("010-1234-5678, 900101-1234567, a@b.com")
    assert mask_pii(once) == once


@pytest.mark.parametrize(
    ("text", "limit", "expected"),
    [
        ("짧은 문장", 50, "짧은 문장"),
        ("가나다라마바사", 3, "가나다…"),
        ("내 번호 010-1234-5678", 50, "내 번호 [PHONE]"),
        # Masked before cutting: half a number never shows up.
        ("번호 010-1234-5678 입니다", 8, "번호 [PHON…"),
        ("첫 줄\n둘째 줄", 50, "첫 줄 둘째 줄"),
        ("", 10, ""),
    ],
)
def test_preview(text: str, limit: int, expected: str) -> None:
    assert preview(text, limit) == expected


def test_preview_default_limit() -> None:
    result = preview("가" * 80)
    assert result == "가" * 50 + "…"


# --- logging filter -------------------------------------------------------------------------


@pytest.fixture
def log() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    handler.addFilter(PIIMaskingFilter())
    logger = logging.getLogger("tests.pii")
    logger.handlers = [handler]
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    yield logger, stream
    logger.handlers = []


@pytest.mark.parametrize(
    ("msg", "args", "expected"),
    [
        ("user said 010-1234-5678로 연락", (), "user said [PHONE]로 연락"),
        ("user said %s", ("900101-1234567이에요",), "user said [RRN]이에요"),
        ("from %s to %s", ("a@b.com", 42), "from [EMAIL] to 42"),
        ("user %(email)s phone %(phone)s", {"email": "a@b.com", "phone": "01012345678"}, "user [EMAIL] phone [PHONE]"),
        ("progress %d%%", (100,), "progress 100%"),
    ],
)
def test_filter_masks_message_and_args(
    log: tuple[logging.Logger, io.StringIO], msg: str, args: tuple[object, ...] | dict[str, object], expected: str
) -> None:
    logger, stream = log
    if isinstance(args, dict):
        logger.info(msg, args)
    else:
        logger.info(msg, *args)
    assert stream.getvalue() == f"INFO {expected}\n"


def test_filter_masks_exception_traceback(log: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = log
    try:
        raise ValueError("주민번호 900101-1234567")
    except ValueError:
        logger.exception("failed for %s", "010-1234-5678")
    output = stream.getvalue()
    assert "900101-1234567" not in output
    assert "010-1234-5678" not in output
    assert "Traceback" in output
    assert "ValueError: 주민번호 [RRN]" in output
    assert "failed for [PHONE]" in output


def test_filter_masks_stack_info(log: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = log
    record = logger.makeRecord("tests.pii", logging.INFO, __file__, 1, "hi", (), None, sinfo="at a@b.com")
    logger.handle(record)
    assert "a@b.com" not in stream.getvalue()
    assert "at [EMAIL]" in stream.getvalue()


def test_filter_masks_records_on_every_handler(log: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = log
    second = io.StringIO()
    unfiltered = logging.StreamHandler(second)
    logger.addHandler(unfiltered)
    logger.warning("call 010-1234-5678")
    # The first handler's filter rewrote the record, so later handlers see masked text too.
    assert "010-1234-5678" not in stream.getvalue() + second.getvalue()


class _Exploding:
    def __str__(self) -> str:
        raise RuntimeError("boom")

    __repr__ = __str__


@pytest.mark.parametrize(
    ("msg", "args"),
    [
        ({"phone": "010-1234-5678"}, ()),
        ("two %s %s", ("010-1234-5678",)),
        ("number %d", ("not a number 010-1234-5678",)),
        ("obj %s", (_Exploding(),)),
        (_Exploding(), ()),
        (None, ()),
    ],
)
def test_filter_never_raises_on_odd_records(msg: object, args: tuple[object, ...]) -> None:
    record = logging.LogRecord("tests.pii", logging.INFO, __file__, 1, msg, args, None)
    assert PIIMaskingFilter().filter(record) is True
    rendered = record.getMessage()
    assert "010-1234-5678" not in rendered
    assert record.args == ()


def test_filter_survives_malformed_exc_info() -> None:
    record = logging.LogRecord("tests.pii", logging.ERROR, __file__, 1, "x", (), None)
    record.exc_info = ("not", "an", "exception")  # type: ignore[assignment]
    assert PIIMaskingFilter().filter(record) is True
    assert record.exc_info is None
    logging.Formatter().format(record)
