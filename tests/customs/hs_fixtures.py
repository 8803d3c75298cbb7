"""A small HS nomenclature written as the real files are, and helpers for HS tests.

Loaded through the real ``load_hscodes`` command, so every test runs on data that went
through the loader users run.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command

from conversations.models import ChatSession, Product
from customs.hs.models import HSCode, HSProductExample

REAL_DATA = Path(__file__).resolve().parents[3] / "shared" / "data" / "hs"

CODES = [
    # section, hscode, description, parent, level
    ("XVI", "84", "Nuclear reactors, boilers, machinery and mechanical appliances; parts thereof", "TOTAL", "2"),
    ("XVI", "8471", "Automatic data processing machines and units thereof", "84", "4"),
    ("XVI", "847130", "Automatic data processing machines; portable, weighing not more than 10kg", "8471", "6"),
    ("XVI", "847141", "Automatic data processing machines; comprising a central processing unit and an input "
                      "and output unit", "8471", "6"),
    ("XVI", "85", "Electrical machinery and equipment and parts thereof; sound recorders and reproducers", "TOTAL", "2"),
    ("XVI", "8504", "Electrical transformers, static converters (for example, rectifiers) and inductors", "85", "4"),
    ("XVI", "850440", "Electrical static converters", "8504", "6"),
    ("XVI", "8517", "Telephone sets, including smartphones and other telephones for cellular networks or for "
                    "other wireless networks", "85", "4"),
    ("XVI", "851713", "Smartphones", "8517", "6"),
    ("XVI", "851714", "Telephones for cellular networks or for other wireless networks, other than smartphones",
     "8517", "6"),
    ("XVI", "8518", "Microphones and their stands; loudspeakers; headphones and earphones, combined or not with a "
                    "microphone", "85", "4"),
    ("XVI", "851810", "Microphones and stands therefor", "8518", "6"),
    ("XVI", "851830", "Headphones and earphones, whether or not combined with a microphone", "8518", "6"),
    ("VII", "39", "Plastics and articles thereof", "TOTAL", "2"),
    ("VII", "3926", "Plastics; other articles and articles of other materials of headings 3901 to 3914", "39", "4"),
    ("VII", "392690", "Plastics; other articles n.e.c. in chapter 39", "3926", "6"),
    ("XI", "61", "Apparel and clothing accessories; knitted or crocheted", "TOTAL", "2"),
    ("XI", "6109", "T-shirts, singlets and other vests; knitted or crocheted", "61", "4"),
    ("XI", "610910", "T-shirts, singlets and other vests; of cotton, knitted or crocheted", "6109", "6"),
    ("XI", "62", "Apparel and clothing accessories; not knitted or crocheted", "TOTAL", "2"),
    ("XI", "6205", "Shirts; men's or boys', not knitted or crocheted", "62", "4"),
    ("XI", "620520", "Shirts; men's or boys', of cotton, not knitted or crocheted", "6205", "6"),
    ("XX", "94", "Furniture; bedding, mattresses, lamps", "TOTAL", "2"),
    ("XX", "9401", "Seats (other than those of heading no. 9402), whether or not convertible into beds", "94", "4"),
    ("XX", "940161", "Seats; with wooden frames, upholstered", "9401", "6"),
    ("XX", "940171", "Seats; with metal frames, upholstered", "9401", "6"),
    ("TOTAL", "TOTAL", "Total of all HS2022 commodities", "TOTAL", "5"),
]
SECTIONS = [("VII", "Plastics and articles thereof"), ("XI", "Textiles and textile articles"),
            ("XVI", "Machinery and mechanical appliances; electrical equipment"), ("XX", "Miscellaneous")]
HS4_KO = {
    "8471": "자동자료처리기계와 그 단위기기",
    "8504": "변압기ㆍ정지형 변환기(예: 정류기)와 유도자",
    "8517": "전화기(셀룰러 통신망용이나 그 밖의 무선통신망용의 스마트폰과 그 밖의 전화기를 포함한다)",
    "8518": "마이크로폰과 그 스탠드, 확성기, 헤드폰과 이어폰(마이크로폰이 부착된 것인지에 상관없다)",
    "3926": "그 밖의 플라스틱 제품",
    "6109": "티셔츠ㆍ싱글렛과 그 밖의 조끼(편물로 한정한다)",
    "6205": "남성용이나 소년용 셔츠",
    "9401": "의자(제9402호의 것은 제외하며, 침대로 전환할 수 있는지에 상관없다)",
}
HS6_KO = {
    "847130": "휴대용 자동자료처리기계(중량이 10킬로그램 이하인 것)",
    "847141": "자동자료처리기계 > 그 밖의 것",
    "850440": "정지형 변환기",
    "851713": "전화기 > 스마트폰",
    "851714": "전화기 > 그 밖의 전화기(셀룰러 통신망용이나 그 밖의 무선통신망용으로 한정한다)",
    "851810": "마이크로폰과 그 스탠드",
    "851830": "헤드폰과 이어폰(마이크로폰이 부착된 것인지에 상관없다)",
    "392690": "기타",
    "610910": "면으로 만든 것",
    "620520": "면으로 만든 것",
    "940161": "목재 프레임으로 만든 것 > 속을 채운 것",
    "940171": "금속제 프레임으로 만든 것 > 속을 채운 것",
}
PRODUCTS = [
    ("블루투스 무선 이어폰 TWS-100", "8518309000"),
    ("유선 헤드폰 스튜디오 모니터링용", "8518301000"),
    ("게이밍 헤드셋 마이크 일체형", "8518309000"),
    ("콘덴서 마이크 방송용", "8518109000"),
    ("스마트폰 갤럭시 S24", "8517130000"),
    ("휴대폰 5G 스마트폰 단말기", "8517130000"),
    ("무선 충전기 스마트폰용 15W", "8504409099"),
    ("USB 충전 어댑터", "8504409099"),
    ("노트북 컴퓨터 14인치", "8471300000"),
    ("스마트폰 케이스 플라스틱제", "3926909000"),
    ("이어폰 케이스 실리콘 플라스틱", "3926909000"),
    ("면 티셔츠 반팔 니트", "6109100000"),
    ("남성용 면 셔츠 직물", "6205200000"),
    ("사무용 의자 목재 프레임 쿠션", "9401610000"),
    ("금속 프레임 의자 패브릭", "9401710000"),
    # HS 2017 code with no HS 2022 subheading here: skipped by the loader.
    ("옛 분류 물품", "9705000000"),
]


def write_csv(path: Path, header: str, rows: list[tuple[str, ...]]) -> Path:
    import csv

    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header.split(","))
        writer.writerows(rows)
    return path


def write_jsonl(path: Path, items: list[tuple[str, str]]) -> Path:
    path.write_text("".join(json.dumps({"product_name": n, "hs_code": c}, ensure_ascii=False) + "\n"
                            for n, c in items), encoding="utf-8")
    return path


@pytest.fixture
def hs_files(tmp_path: Path) -> dict[str, Path]:
    return {
        "file": write_csv(tmp_path / "harmonized-system.csv", "section,hscode,description,parent,level", CODES),
        "sections": write_csv(tmp_path / "sections.csv", "section,name", SECTIONS),
        "hs4_ko": write_csv(tmp_path / "hs4_ko.csv", "hs4,title_ko", list(HS4_KO.items())),
        "hs6_ko": write_csv(tmp_path / "hs6_ko.csv", "hs6,title_ko", list(HS6_KO.items())),
        "products": write_jsonl(tmp_path / "ko_product_names.jsonl", PRODUCTS),
    }


def load(files: dict[str, Path], **extra: Any) -> None:
    call_command("load_hscodes", "--file", str(files["file"]), "--sections", str(files["sections"]),
                 "--hs4-ko", str(files["hs4_ko"]), "--hs6-ko", str(files["hs6_ko"]),
                 "--products", str(files["products"]), verbosity=0, **extra)


@pytest.fixture
def hs_loaded(hs_files: dict[str, Path], transactional_db: None) -> dict[str, Path]:
    load(hs_files)
    return hs_files


@pytest.fixture
def customs_session(transactional_db: None) -> ChatSession:
    return ChatSession.objects.create(key=str(uuid.uuid4()), product=Product.CUSTOMS)


def code_is_loaded(code: str) -> bool:
    """A returned code is an example's HSK code, or a loaded subheading + 0000."""
    digits = code.replace(".", "")
    assert len(digits) == 10 and digits.isdigit(), code
    if HSProductExample.objects.filter(hsk_code=digits).exists():
        return True
    return digits.endswith("0000") and HSCode.objects.filter(code=digits[:6], level=6).exists()


def body_codes(body: dict[str, Any]) -> list[str]:
    result = body.get("result") or {}
    return [c for c in [result.get("hscode"), *result.get("alternative_codes", [])] if c]
