"""Masking of personal data in free text and in log records.

Pure functions plus a ``logging.Filter``; importable without Django settings so the
logging config can reference it before apps are loaded.

Python's ``\\b`` is useless next to Hangul because Hangul syllables are word characters
("010-1234-5678로" has no boundary after the last digit), so every numeric pattern uses
explicit look-arounds instead. Only the number itself is replaced, which keeps glued
particles: "010-1234-5678로 연락" -> "[PHONE]로 연락".
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable

__all__ = ["PLACEHOLDERS", "PIIMaskingFilter", "mask_pii", "preview"]

PLACEHOLDERS: tuple[str, ...] = (
    "[TOKEN]",
    "[EMAIL]",
    "[RRN]",
    "[CARD]",
    "[LICENSE]",
    "[PASSPORT]",
    "[CUSTOMS_ID]",
    "[PHONE]",
    "[ACCOUNT]",
)

# A digit run must not continue an identifier ("sess_0101234..."), a longer number or a
# decimal ("3.1415..."); Hangul on either side is allowed on purpose.
_LB = r"(?<![A-Za-z0-9_])(?<!\d[.\-])"
_LA = r"(?!\d)(?![.\-]\d)"
# Stricter end for generic digit groups: a trailing letter marks a reference number such
# as a customs declaration "12345-25-123456M", not an account.
_LA_STRICT = r"(?![A-Za-z0-9_])(?![.\-]\d)"
_SEP = r"(?:\s*[-.]\s*|\s)?"
_SEP_REQ = r"(?:\s*[-.]\s*|\s)"
# Seoul, the provinces, and 070 (internet phones). 080 toll-free lines are left out for the
# same reason as 1588-style numbers below.
_AREA = r"0(?:2|[3-6][1-5]|70)"

# --- secrets: first, because token values may contain digit runs or "@" -----------------
_AUTH_HEADER = re.compile(
    r"(?i)(?<![A-Za-z0-9_-])(authorization[\"']?\s*[:=]\s*[\"']?)"
    r"(?:(?:bearer|basic|token|digest)\s+)?[^\s\"',;]+"
)
_BEARER = re.compile(r"(?i)(?<![A-Za-z0-9_])(bearer\s+)[A-Za-z0-9\-._~+/]+=*")
# Also catches csrftoken=, access_token=, api_key: ..., and the login cookie (sessionid=);
# "max_tokens=512" does not match because the key must end right before the separator.
_KEY_VALUE = re.compile(
    r"(?i)(?<![A-Za-z0-9_])([A-Za-z_]*?(?:token|secret|password|passwd|api[_-]?key|sessionid))"
    r"([\"']?\s*[=:]\s*[\"']?)[^\s&\"',;#]+"
)
_JWT = re.compile(r"(?<![A-Za-z0-9_-])eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}")
_API_KEY = re.compile(r"(?<![A-Za-z0-9])sk-(?:proj-)?[A-Za-z0-9_-]{20,}")

_EMAIL = re.compile(
    r"(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}(?![A-Za-z])"
)

# --- resident / foreigner registration numbers -------------------------------------------
# Before cards, phones and accounts: 13 digits with a hyphen would otherwise be read as
# other digit groups. 7th digit 1-4 for citizens, 5-8 for foreigners.
_RRN = re.compile(_LB + r"\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])(?:\s*-\s*|\s)?[1-8]\d{6}" + _LA)

# --- cards ---------------------------------------------------------------------------------
# 4-4-4-4 (optionally -3 for 19-digit cards) is a card layout and nothing else, so no Luhn.
_CARD_GROUPED = re.compile(_LB + r"\d{4}(?:[-\s]\d{4}){3}(?:-\d{3})?" + _LA)
_CARD_AMEX = re.compile(_LB + r"3[47]\d{2}[-\s]\d{6}[-\s]\d{5}" + _LA)
# Bare runs are common (order ids, timestamps), so only Luhn-valid 15/16-digit runs count.
_CARD_CONTIGUOUS = re.compile(_LB + r"\d{15,16}" + _LA)

# --- driver's licence: 11-22-333333-44, and the old "서울 12-345678-90" --------------------
# Before accounts, which would also match these digit groups.
_LICENSE = re.compile(_LB + r"(?:\d{2}-)?\d{2}-\d{6}-\d{2}" + _LA)

# --- passports: M12345678 and the 2021 format M123A4567 ------------------------------------
_PASSPORT = re.compile(r"(?<![A-Za-z0-9_])[MSRODmsrod](?:\d{8}|\d{3}[A-Za-z]\d{4})(?![A-Za-z0-9_])")

# --- personal customs clearance code (개인통관고유부호), P + 12 digits -----------------
_CUSTOMS_ID = re.compile(r"(?<![A-Za-z0-9_])[Pp]\d{12}(?!\d)")

# --- phones ----------------------------------------------------------------------------
# Representative numbers such as 1588-1234 / 1577-0199 are deliberately NOT masked: they
# are public business and help lines (the crisis reply itself contains one), not personal
# data. None of the patterns below can match them because all start with 0 or +82.
_PHONE = re.compile(
    r"(?:"
    r"\+\s?82" + _SEP + r"\(?0?\)?\s?(?:1[016789]|2|[3-6][1-5]|70)" + _SEP + r"\d{3,4}" + _SEP + r"\d{4}"
    r"|" + _LB + r"01[016789]" + _SEP + r"\d{3,4}" + _SEP + r"\d{4}"
    # Landlines need separators: a bare 9-10 digit run starting with 0 is too often
    # something else.
    r"|" + _LB + r"(?:\(" + _AREA + r"\)\s*|" + _AREA + _SEP_REQ + r")\d{3,4}" + _SEP_REQ + r"\d{4}"
    r")" + _LA
)

# --- bank accounts: generic hyphenated digit groups, so last --------------------------------
_ACCOUNT = re.compile(_LB + r"\d{2,6}(?:-\d{1,8}){2,4}" + _LA_STRICT)
_DATE_PREFIX = re.compile(r"(?:19|20)\d{2}-(?:0?[1-9]|1[0-2])-(?:0?[1-9]|[12]\d|3[01])(?:-|$)")
# Business registration numbers (123-45-67890) are public, like representative phone lines.
_BUSINESS_NO = re.compile(r"\d{3}-\d{2}-\d{5}")


def _luhn_ok(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2 == 1:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def _card_contiguous(match: re.Match[str]) -> str:
    digits = match.group(0)
    if len(digits) == 15 and not digits.startswith(("34", "37")):
        return digits
    return "[CARD]" if _luhn_ok(digits) else digits


def _account(match: re.Match[str]) -> str:
    value = match.group(0)
    digit_count = sum(char.isdigit() for char in value)
    if not 10 <= digit_count <= 20:
        return value
    if _DATE_PREFIX.match(value) or _BUSINESS_NO.fullmatch(value) or value.startswith("080-"):
        return value
    return "[ACCOUNT]"


_Replacement = str | Callable[[re.Match[str]], str]

# Order matters: secrets -> e-mail -> RRN -> cards -> licence -> passport -> customs id ->
# phone -> account. Earlier, more specific shapes must claim their digits before the
# generic phone/account patterns see them, and placeholders contain no digits, so a later
# pattern can never re-match a masked span.
_RULES: tuple[tuple[re.Pattern[str], _Replacement], ...] = (
    (_AUTH_HEADER, r"\1[TOKEN]"),
    (_BEARER, r"\1[TOKEN]"),
    (_KEY_VALUE, r"\1\2[TOKEN]"),
    (_JWT, "[TOKEN]"),
    (_API_KEY, "[TOKEN]"),
    (_EMAIL, "[EMAIL]"),
    (_RRN, "[RRN]"),
    (_CARD_GROUPED, "[CARD]"),
    (_CARD_AMEX, "[CARD]"),
    (_CARD_CONTIGUOUS, _card_contiguous),
    (_LICENSE, "[LICENSE]"),
    (_PASSPORT, "[PASSPORT]"),
    (_CUSTOMS_ID, "[CUSTOMS_ID]"),
    (_PHONE, "[PHONE]"),
    (_ACCOUNT, _account),
)


# Every rule above needs one of these; most text (a Korean reply, a log line) has none, and
# is then returned without running fifteen patterns over it.
_MAYBE_PII = re.compile(r"[\d@]|(?i:authorization|bearer|token|secret|passw|api[_-]?key|eyj|sk-)")


def mask_pii(text: str) -> str:
    """Return ``text`` with personal data and secrets replaced by placeholders."""
    if not text or not _MAYBE_PII.search(text):
        return text
    for pattern, replacement in _RULES:
        text = pattern.sub(replacement, text)
    return text


def preview(text: str, limit: int = 50) -> str:
    """Masked, single-line excerpt of ``text`` for log lines.

    Masks before cutting so a number split at the limit cannot slip through half-visible.
    Line breaks become spaces so user text cannot forge extra log lines.
    """
    masked = mask_pii(text).replace("\r", " ").replace("\n", " ")
    limit = max(limit, 0)
    if len(masked) <= limit:
        return masked
    return masked[:limit] + "…"


_TRACEBACK_FORMATTER = logging.Formatter()


class PIIMaskingFilter(logging.Filter):
    """Masks the rendered message, traceback and stack of every record it sees.

    Attach it to handlers, not loggers: logger filters do not see records propagated from
    child loggers. The record is rewritten in place (message pre-rendered, ``args``
    emptied, ``exc_info`` replaced by a masked ``exc_text``), so every handler after this
    one sees only masked text. Never raises: a broken log call must not take the app down.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        self._mask_message(record)
        self._mask_exception(record)
        self._mask_stack(record)
        return True

    @staticmethod
    def _mask_message(record: logging.LogRecord) -> None:
        try:
            record.msg = mask_pii(record.getMessage())
            record.args = ()
            return
        except Exception:  # noqa: BLE001 - user code (__str__, bad args) can raise anything
            pass
        # getMessage() failed (e.g. args do not fit the format): keep what we can, masked,
        # and drop args so the handler does not fail on the same formatting again.
        try:
            record.msg = mask_pii(f"{record.msg} args={record.args!r}")
        except Exception:  # noqa: BLE001 - logging must never crash the caller
            record.msg = "[unprintable log message]"
        record.args = ()

    @staticmethod
    def _mask_exception(record: logging.LogRecord) -> None:
        try:
            if record.exc_info:
                text = _TRACEBACK_FORMATTER.formatException(record.exc_info)
                record.exc_text = mask_pii(text)
                # Cleared so Formatter.format() uses the masked exc_text instead of
                # rendering the raw traceback again.
                record.exc_info = None
            elif record.exc_text:
                record.exc_text = mask_pii(record.exc_text)
        except Exception:  # noqa: BLE001 - a malformed exc_info must not crash the caller
            record.exc_info = None
            record.exc_text = "[unprintable exception]"

    @staticmethod
    def _mask_stack(record: logging.LogRecord) -> None:
        try:
            if record.stack_info:
                record.stack_info = mask_pii(record.stack_info)
        except Exception:  # noqa: BLE001 - logging must never crash the caller
            record.stack_info = None
