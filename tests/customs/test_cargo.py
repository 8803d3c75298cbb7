"""The cargo number recogniser on a table of valid and invalid numbers of every kind."""

from __future__ import annotations

import pytest

from customs.cargo import awb_check_ok, iso6346_check_digit, recognize_cargo_number, recognize_cargo_numbers
from customs.models import CargoType

C, BL, AWB, MGMT, PARCEL = (CargoType.CONTAINER, CargoType.BILL_OF_LADING, CargoType.AIR_WAYBILL,
                            CargoType.CARGO_MANAGEMENT, CargoType.PARCEL)

# (message, expected number or None, kind, confidence, note expected)
TABLE = [
    # ISO 6346 containers with a right check digit
    ("CSQU3054383 통관 조회", "CSQU3054383", C, 0.95, False),
    ("MSKU9070323", "MSKU9070323", C, 0.95, False),
    ("컨테이너 tghu1234567 어디쯤이에요?", "TGHU1234567", C, 0.95, False),
    ("HLXU 875432 8 확인", "HLXU8754328", C, 0.95, False),
    ("MAEU-000001-3", "MAEU0000013", C, 0.95, False),
    ("CMAU5123450을 조회해줘", "CMAU5123450", C, 0.95, False),
    ("OOLU6543213, 부탁해요", "OOLU6543213", C, 0.95, False),
    ("ZIMU3004009", "ZIMU3004009", C, 0.95, False),
    # ... and wrong ones: still recognised, lower, with a note
    ("CSQU3054384 통관 조회", "CSQU3054384", C, 0.7, True),
    ("MSKU9070320", "MSKU9070320", C, 0.7, True),
    ("TGHU1234560", "TGHU1234560", C, 0.7, True),
    ("ABCD1234567", "ABCD1234567", C, 0.7, True),  # the seed's example: wrong digit, category D
    ("ABCD1234560", "ABCD1234560", C, 0.8, True),  # right digit, unusual category letter
    # air waybills: 3-digit prefix + 8 digits, the last = first seven mod 7
    ("180-12345675 항공화물", "18012345675", AWB, 0.9, False),
    ("AWB 988 7654 3213", "98876543213", AWB, 0.9, False),
    ("61899999992", "61899999992", AWB, 0.9, False),
    ("항공 운송장 176-31415926 조회", "17631415926", AWB, 0.9, False),
    # Korean cargo management numbers (MRN + MSN + HSN)
    ("24KMTC0123I-0001-0000 통관 진행", "24KMTC0123I00010000", MGMT, 0.95, False),
    ("화물관리번호 23HDMU5678I00020001", "23HDMU5678I00020001", MGMT, 0.95, False),
    ("25MAEU0001E 0003 0000", "25MAEU0001E00030000", MGMT, 0.95, False),
    # bills of lading
    ("B/L MAEU123456789 확인", "MAEU123456789", BL, 0.85, False),
    ("HDMUSELA12345678", "HDMUSELA12345678", BL, 0.8, False),
    ("선하증권 번호 COSU6312345670", "COSU6312345670", BL, 0.85, False),
    ("bl maeu987654321", "MAEU987654321", BL, 0.85, False),
    ("EGLV142300123456 입니다", "EGLV142300123456", BL, 0.8, False),
    # parcel tracking numbers
    ("1234-5678-9012 배송 조회", "123456789012", PARCEL, 0.8, False),
    ("운송장 6891-2345-6789", "689123456789", PARCEL, 0.8, False),
    ("택배 5588123456", "5588123456", PARCEL, 0.7, False),
    ("송장번호 123412341234 입니다", "123412341234", PARCEL, 0.7, False),
    # an air waybill with a wrong mod-7 digit is not taken for one
    ("180-12345670", None, None, None, False),
    # not cargo numbers
    ("화물 조회해줘", None, None, None, False),
    ("010-1234-5678로 연락 주세요", None, None, None, False),
    ("01012345678", None, None, None, False),
    ("02-123-4567", None, None, None, False),
    ("주문번호 order12345678", None, None, None, False),
    ("ABC1234567", None, None, None, False),  # three letters
    ("ABCD123456", None, None, None, False),  # six digits
    ("스마트폰 HS코드 알려줘", None, None, None, False),
    ("MSCU12345678901234567890", None, None, None, False),  # too long for any kind
    ("12345", None, None, None, False),
    ("가격은 1,234,567원", None, None, None, False),
]


@pytest.mark.parametrize(("message", "number", "kind", "confidence", "note"), TABLE)
def test_recognises_the_number_and_its_kind(message: str, number: str | None, kind: CargoType | None,
                                            confidence: float | None, note: bool) -> None:
    match = recognize_cargo_number(message)
    if number is None:
        assert match is None, match
        return
    assert match is not None
    assert (match.number, match.kind, match.confidence) == (number, kind, confidence)
    assert bool(match.note) == note


def test_table_covers_every_kind_with_valid_and_invalid_numbers() -> None:
    assert len(TABLE) >= 40
    kinds = {row[2] for row in TABLE if row[1] is not None}
    assert kinds == {C, BL, AWB, MGMT, PARCEL}


def test_iso6346_check_digit() -> None:
    assert iso6346_check_digit("CSQU305438") == 3  # ISO 6346's own example
    assert iso6346_check_digit("MSKU907032") == 3
    with pytest.raises(ValueError):
        iso6346_check_digit("CSQU30543")


def test_wrong_check_digit_note_names_the_right_digit() -> None:
    match = recognize_cargo_number("CSQU3054384")
    assert match is not None and "3" in match.note and "ISO 6346" in match.note


def test_awb_check_digit() -> None:
    assert awb_check_ok("12345675")
    assert not awb_check_ok("12345676")
    assert not awb_check_ok("1234567")


def test_several_numbers_are_all_listed_the_most_specific_first() -> None:
    matches = recognize_cargo_numbers("컨테이너 CSQU3054383 과 항공 180-12345675, 택배 1234-5678-9012")
    assert [m.kind for m in matches] == [C, AWB, PARCEL]
    assert [m.number for m in matches] == ["CSQU3054383", "18012345675", "123456789012"]


def test_a_stronger_reading_of_the_same_characters_wins() -> None:
    # Four letters and seven digits: a container (even with a wrong digit), never a B/L.
    assert [m.kind for m in recognize_cargo_numbers("MSCU1234565")] == [C]
    # A cargo management number is not also read as a parcel number.
    assert [m.kind for m in recognize_cargo_numbers("24KMTC0123I-0001-0000")] == [MGMT]
