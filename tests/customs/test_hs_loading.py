"""load_hscodes, run as operators run it: idempotent, bulk, clear errors on bad files."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from customs.hs.models import HSCode, HSDataVersion, HSProductExample, HSSection, Level
from customs.hs.selectors import data_version
from tests.customs.hs_fixtures import CODES, load, write_csv, write_jsonl

pytestmark = pytest.mark.django_db


def _counts() -> tuple[int, int, int, int]:
    return (HSSection.objects.count(), HSCode.objects.filter(level=Level.HEADING).count(),
            HSCode.objects.filter(level=Level.SUBHEADING).count(), HSProductExample.objects.count())


def test_loads_every_level_with_korean_titles_and_examples(hs_files: dict[str, Path]) -> None:
    out = io.StringIO()
    call_command("load_hscodes", "--file", str(hs_files["file"]), "--sections", str(hs_files["sections"]),
                 "--hs4-ko", str(hs_files["hs4_ko"]), "--hs6-ko", str(hs_files["hs6_ko"]),
                 "--products", str(hs_files["products"]), stdout=out, stderr=io.StringIO())
    assert _counts() == (4, 8, 12, 15)
    assert HSCode.objects.filter(level=Level.CHAPTER).count() == 6
    earphones = HSCode.objects.get(code="851830")
    assert earphones.parent_code == "8518" and earphones.section_id == "XVI"
    assert earphones.title_ko.startswith("헤드폰과 이어폰")
    assert HSCode.objects.get(code="8518").title_ko.startswith("마이크로폰")
    example = HSProductExample.objects.get(name="블루투스 무선 이어폰 TWS-100")
    assert example.hsk_code == "8518309000" and example.subheading.code == "851830"
    # Comtrade's statistical TOTAL row is not a code; the HS 2017 example has no subheading.
    assert not HSCode.objects.filter(code="TOTAL").exists()
    assert "1 skipped" in out.getvalue()
    assert "product examples: 15 created, 0 updated" in out.getvalue()


def test_running_again_updates_in_place_and_never_duplicates(hs_files: dict[str, Path], tmp_path: Path) -> None:
    load(hs_files)
    first_version = data_version()
    before = _counts()
    ids = dict(HSCode.objects.values_list("code", "id"))
    renamed = [row if row[1] != "851830" else (*row[:2], "Headphones and earphones (renamed)", *row[3:])
               for row in CODES]
    hs_files["file"] = write_csv(tmp_path / "renamed.csv", "section,hscode,description,parent,level", renamed)
    load(hs_files)
    assert _counts() == before
    assert dict(HSCode.objects.values_list("code", "id")) == ids
    assert HSCode.objects.get(code="851830").title_en == "Headphones and earphones (renamed)"
    # The retrieval index of every process learns that the data changed.
    assert data_version() and data_version() != first_version
    assert HSDataVersion.objects.count() == 1


def test_progress_goes_to_stderr_and_verbosity_zero_is_quiet(hs_files: dict[str, Path]) -> None:
    out, err = io.StringIO(), io.StringIO()
    call_command("load_hscodes", "--file", str(hs_files["file"]), stdout=out, stderr=err)
    assert "HS codes [" in err.getvalue() and "26/26" in err.getvalue()
    out, err = io.StringIO(), io.StringIO()
    call_command("load_hscodes", "--file", str(hs_files["file"]), stdout=out, stderr=err, verbosity=0)
    assert err.getvalue() == ""


@pytest.mark.parametrize(
    ("header", "rows", "expected"),
    [
        ("section,hscode,description,level", [], "line 1: missing column(s) parent"),
        ("section,hscode,description,parent,level", [("XVI", "85", "Electrical", "TOTAL", "2"),
                                                     ("XVI", "85A7", "Telephones", "85", "4")],
         "line 3: bad code '85A7' for level 4"),
        ("section,hscode,description,parent,level", [("XVI", "85", "Electrical", "TOTAL", "2"),
                                                     ("XVI", "8517", "Telephones", "84", "4")],
         "line 3: bad parent '84' for code 8517"),
        ("section,hscode,description,parent,level", [("XVI", "85", "Electrical", "TOTAL", "3")],
         "line 2: bad level '3'"),
        ("section,hscode,description,parent,level", [("XVI", "85", "", "TOTAL", "2")],
         "line 2: empty description"),
        ("section,hscode,description,parent,level", [("XVI", "8517", "Telephones", "85", "4")],
         "parent 85 is not in the file"),
    ],
)
def test_a_malformed_nomenclature_names_the_line_and_writes_nothing(
        tmp_path: Path, header: str, rows: list[tuple[str, ...]], expected: str) -> None:
    path = write_csv(tmp_path / "bad.csv", header, rows)
    with pytest.raises(CommandError, match=expected.replace("(", r"\(").replace(")", r"\)")) as info:
        call_command("load_hscodes", "--file", str(path), verbosity=0)
    assert "bad.csv" in str(info.value)
    assert HSCode.objects.count() == 0


def test_malformed_product_examples_name_the_line(hs_files: dict[str, Path], tmp_path: Path) -> None:
    load(hs_files)
    before = _counts()
    bad_json = tmp_path / "bad.jsonl"
    bad_json.write_text('{"product_name": "이어폰", "hs_code": "8518309000"}\n{"product_name": "헤드폰",\n',
                        encoding="utf-8")
    with pytest.raises(CommandError, match=r"bad.jsonl, line 2: not JSON"):
        call_command("load_hscodes", "--products", str(bad_json), verbosity=0)
    bad_code = write_jsonl(tmp_path / "code.jsonl", [("이어폰", "8518309000"), ("헤드폰", "85183")])
    with pytest.raises(CommandError, match=r"code.jsonl, line 2: bad hs_code '85183'"):
        call_command("load_hscodes", "--products", str(bad_code), verbosity=0)
    no_name = tmp_path / "name.jsonl"
    no_name.write_text('{"hs_code": "8518309000"}\n', encoding="utf-8")
    with pytest.raises(CommandError, match=r"line 1: missing or empty product_name"):
        call_command("load_hscodes", "--products", str(no_name), verbosity=0)
    assert _counts() == before


def test_malformed_korean_titles_name_the_line(hs_files: dict[str, Path], tmp_path: Path) -> None:
    load(hs_files)
    bad = write_csv(tmp_path / "hs6.csv", "hs6,title_ko", [("851830", "헤드폰"), ("85183", "이어폰")])
    with pytest.raises(CommandError, match=r"hs6.csv, line 3: bad code '85183': expected 6 digits"):
        call_command("load_hscodes", "--hs6-ko", str(bad), verbosity=0)
    wrong_header = write_csv(tmp_path / "hs4.csv", "code,title", [("8518", "헤드폰")])
    with pytest.raises(CommandError, match=r"line 1: missing column\(s\) hs4, title_ko"):
        call_command("load_hscodes", "--hs4-ko", str(wrong_header), verbosity=0)
    assert HSCode.objects.get(code="851830").title_ko.startswith("헤드폰과 이어폰")


def test_a_file_saved_in_cp949_is_refused_with_what_to_do(hs_files: dict[str, Path], tmp_path: Path) -> None:
    load(hs_files)
    excel = tmp_path / "hs4_cp949.csv"
    excel.write_bytes("hs4,title_ko\n8518,헤드폰\n".encode("cp949"))
    with pytest.raises(CommandError, match=r"hs4_cp949.csv, line 1: not UTF-8 \(convert it first, e.g. iconv"):
        call_command("load_hscodes", "--hs4-ko", str(excel), verbosity=0)


def test_titles_before_the_nomenclature_and_missing_files_are_refused(hs_files: dict[str, Path]) -> None:
    with pytest.raises(CommandError, match="give --file first"):
        call_command("load_hscodes", "--hs4-ko", str(hs_files["hs4_ko"]), verbosity=0)
    with pytest.raises(CommandError, match="No such file"):
        call_command("load_hscodes", "--file", "/nonexistent/hs.csv", verbosity=0)
    with pytest.raises(CommandError, match="Nothing to load"):
        call_command("load_hscodes", verbosity=0)
