"""Cargo number recognition: container (ISO 6346), B/L, air waybill, Korean cargo
management number and parcel tracking numbers, with their check digits.

Pure functions. Every match is listed; the most specific one (highest confidence, then
longest) is the number the user means. A container number whose check digit is wrong is
still recognised (users mistype one digit far more often than they invent a format),
with a lower confidence and a note saying what the digit should be.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from customs.models import CargoType

# ISO 6346 letter values: 10 upwards, skipping multiples of 11.
_LETTER_VALUES: dict[str, int] = {}
_value = 10
for _letter in "ABCDEFGHIJKLMNOPQRSTUVWXYZ":
    if _value % 11 == 0:
        _value += 1
    _LETTER_VALUES[_letter] = _value
    _value += 1

_EDGE_L = r"(?<![A-Z0-9])"
_EDGE_R = r"(?![A-Z0-9])"
_SEP = r"[ \-]?"
_CONTAINER = re.compile(_EDGE_L + r"([A-Z]{3})([A-Z])" + _SEP + r"(\d{6})" + _SEP + r"(\d)" + _EDGE_R)
# MRN (year, carrier code, serial, I/E) + MSN + HSN: 11 + 4 + 4 characters.
_CARGO_MGMT = re.compile(_EDGE_L + r"(\d{2}[A-Z0-9]{4}\d{4}[A-Z])" + _SEP + r"(\d{4})" + _SEP + r"(\d{4})" + _EDGE_R)
_AWB = re.compile(r"(?<![0-9A-Z\-])(\d{3})[ \-]?(\d{4})[ ]?(\d{4})(?![0-9A-Z])")
_AWB_COMPACT = re.compile(r"(?<![0-9A-Z\-])(\d{3})[ \-]?(\d{8})(?![0-9A-Z])")
# SCAC (4 letters) then 8–14 letters/digits with at least 6 digits.
_BL = re.compile(_EDGE_L + r"([A-Z]{4}[A-Z0-9]{8,14})" + _EDGE_R)
_CONTAINER_SHAPE = re.compile(r"^[A-Z]{4}\d{7}$")
_BL_CONTEXT = re.compile(r"B/?L|선하증권|비엘|BILL OF LADING", re.IGNORECASE)
_PARCEL_DASHED = re.compile(r"(?<![0-9\-])(\d{4})-(\d{4})-(\d{4,5})(?![0-9\-])")
_PARCEL_PLAIN = re.compile(r"(?<![0-9\-])(\d{10,14})(?![0-9\-])")
# Korean mobile and landline numbers look like air waybills and parcel numbers.
_PHONE = re.compile(r"^(01[016789]\d{7,8}|0[2-6]\d{7,9})$")

TYPE_LABELS: dict[str, str] = {
    CargoType.CONTAINER: "컨테이너",
    CargoType.BILL_OF_LADING: "선하증권(B/L)",
    CargoType.AIR_WAYBILL: "항공화물운송장(AWB)",
    CargoType.CARGO_MANAGEMENT: "화물관리번호",
    CargoType.PARCEL: "택배 운송장",
}
# Names used in ``extracted_patterns`` (the seed's "container").
PATTERN_NAMES: dict[str, str] = {
    CargoType.CONTAINER: "container",
    CargoType.BILL_OF_LADING: "bill_of_lading",
    CargoType.AIR_WAYBILL: "air_waybill",
    CargoType.CARGO_MANAGEMENT: "cargo_management_number",
    CargoType.PARCEL: "parcel_tracking",
}


@dataclass(frozen=True)
class CargoMatch:
    number: str  # normalised: upper case, no spaces or hyphens
    kind: CargoType
    confidence: float
    start: int
    end: int
    note: str = ""

    @property
    def label(self) -> str:
        return TYPE_LABELS[self.kind]

    @property
    def pattern(self) -> str:
        return PATTERN_NAMES[self.kind]


def normalize_cargo_number(raw: str) -> str:
    return re.sub(r"[\s\-]", "", raw).upper()


def iso6346_check_digit(first_ten: str) -> int:
    """The check digit of a container number's first 10 characters (owner, category, serial)."""
    if len(first_ten) != 10:
        raise ValueError("a container number has 10 characters before its check digit")
    total = 0
    for position, char in enumerate(first_ten.upper()):
        value = _LETTER_VALUES[char] if char.isalpha() else int(char)
        total += value * 2**position
    return total % 11 % 10


def awb_check_ok(serial: str) -> bool:
    """IATA air waybill: the 8th serial digit is the first seven taken modulo 7."""
    return len(serial) == 8 and serial.isdigit() and int(serial[:7]) % 7 == int(serial[7])


def _containers(text: str) -> list[CargoMatch]:
    found = []
    for m in _CONTAINER.finditer(text):
        owner, category, serial, check = m.groups()
        number = owner + category + serial + check
        expected = iso6346_check_digit(number[:10])
        notes = []
        confidence = 0.95
        if expected != int(check):
            confidence = 0.7
            notes.append(f"검사 숫자(마지막 자리)가 ISO 6346 계산값 {expected}과(와) 다릅니다. "
                         "번호를 다시 확인해 주세요.")
        if category not in "UJZ":
            confidence = min(confidence, 0.8)
            notes.append(f"네 번째 글자는 보통 U, J, Z 중 하나입니다 (입력: {category}).")
        found.append(CargoMatch(number, CargoType.CONTAINER, confidence, m.start(), m.end(), " ".join(notes)))
    return found


def _cargo_management(text: str) -> list[CargoMatch]:
    return [CargoMatch("".join(m.groups()), CargoType.CARGO_MANAGEMENT, 0.95, m.start(), m.end())
            for m in _CARGO_MGMT.finditer(text)]


def _air_waybills(text: str) -> list[CargoMatch]:
    found = []
    for pattern in (_AWB, _AWB_COMPACT):
        for m in pattern.finditer(text):
            prefix, serial = m.group(1), "".join(m.groups()[1:])
            number = prefix + serial
            if _PHONE.match(number) or not awb_check_ok(serial):
                continue
            found.append(CargoMatch(number, CargoType.AIR_WAYBILL, 0.9, m.start(), m.end()))
    return found


def _bills_of_lading(text: str, original: str, *, in_context: bool) -> list[CargoMatch]:
    found = []
    for m in _BL.finditer(text):
        number = m.group(1)
        if sum(ch.isdigit() for ch in number) < 6 or _CONTAINER_SHAPE.match(number):
            continue  # four letters and seven digits are a container number, right or wrong
        if not in_context and any(ch.islower() for ch in original[m.start():m.end()]):
            continue  # "order12345678": B/L numbers are written in capitals
        found.append(CargoMatch(number, CargoType.BILL_OF_LADING, 0.85 if in_context else 0.8, m.start(), m.end()))
    return found


def _parcels(text: str) -> list[CargoMatch]:
    found = []
    for m in _PARCEL_DASHED.finditer(text):
        found.append(CargoMatch("".join(m.groups()), CargoType.PARCEL, 0.8, m.start(), m.end()))
    for m in _PARCEL_PLAIN.finditer(text):
        if not _PHONE.match(m.group(1)):
            found.append(CargoMatch(m.group(1), CargoType.PARCEL, 0.7, m.start(), m.end()))
    return found


def _rank(match: CargoMatch) -> tuple[float, int]:
    return (match.confidence, match.end - match.start)


def recognize_cargo_numbers(text: str) -> list[CargoMatch]:
    """Every cargo number in ``text``, the most specific first; overlapping weaker readings dropped."""
    upper = text.upper()
    candidates = [
        *_cargo_management(upper),
        *_containers(upper),
        *_air_waybills(upper),
        *_bills_of_lading(upper, text, in_context=bool(_BL_CONTEXT.search(upper))),
        *_parcels(upper),
    ]
    chosen: list[CargoMatch] = []
    for match in sorted(candidates, key=_rank, reverse=True):
        if any(match.start < other.end and other.start < match.end for other in chosen):
            continue  # a stronger reading of the same characters won
        chosen.append(match)
    return chosen


def recognize_cargo_number(text: str) -> CargoMatch | None:
    matches = recognize_cargo_numbers(text)
    return matches[0] if matches else None
