"""Load the HS nomenclature and the Korean product examples from their files.

Every loader parses and validates its whole file first (a malformed file writes
nothing and names the line), then upserts in bulk inside one transaction, so running it
again updates rows in place and never duplicates them.
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from django.db import transaction

from customs.hs.models import HSCode, HSProductExample, HSSection, Level
from customs.hs.services import data_version_bump

BATCH = 1000


class Progress(Protocol):
    """``conversations.management.ProgressBar``'s shape: told the total, then advanced."""

    total: int

    def advance(self, count: int = 1) -> None: ...


class _NoProgress:
    total = 0

    def advance(self, count: int = 1) -> None:
        return None

_ROMAN = re.compile(r"^[IVXLC]{1,8}$")
_PARENT_LEVEL = {Level.CHAPTER: None, Level.HEADING: 2, Level.SUBHEADING: 4}
# Comtrade's statistical rows (the grand total, chapter 99 "not specified according to
# kind") sit in a pseudo-section TOTAL: they are not HS codes.
_TOTAL = "TOTAL"


class HSDataError(ValueError):
    """A malformed data file: says which file and line."""

    def __init__(self, path: Path, line: int | None, problem: str) -> None:
        self.path, self.line, self.problem = path, line, problem
        where = f"{path.name}, line {line}" if line else path.name
        super().__init__(f"{where}: {problem}")


@dataclass
class LoadReport:
    created: int = 0
    updated: int = 0
    skipped: int = 0  # rows whose code is not in the loaded nomenclature


# Korean CSVs saved from Excel are often CP949.
NOT_UTF8 = "not UTF-8 (convert it first, e.g. iconv -f cp949 -t utf-8)"


def _csv_rows(path: Path, required: tuple[str, ...]) -> Iterator[tuple[int, dict[str, str]]]:
    try:
        handle = path.open(encoding="utf-8-sig", newline="")
    except OSError as exc:
        raise HSDataError(path, None, f"cannot open: {exc.strerror}") from exc
    with handle:
        reader = csv.DictReader(handle)
        try:
            header = reader.fieldnames or []
        except UnicodeDecodeError as exc:
            raise HSDataError(path, 1, NOT_UTF8) from exc
        missing = [name for name in required if name not in header]
        if missing:
            raise HSDataError(path, 1, f"missing column(s) {', '.join(missing)}; the header must have "
                                       f"{', '.join(required)}")
        try:
            for row in reader:
                if any((v or "").strip() for v in row.values() if isinstance(v, str)):
                    yield reader.line_num, {k: (row.get(k) or "").strip() for k in required}
        except UnicodeDecodeError as exc:
            raise HSDataError(path, reader.line_num, NOT_UTF8) from exc
        except csv.Error as exc:
            raise HSDataError(path, reader.line_num, f"unreadable: {exc}") from exc


def _existing(codes: list[str], model: type[HSCode] | type[HSProductExample], field: str) -> set[str]:
    found: set[str] = set()
    for i in range(0, len(codes), BATCH):
        found.update(model.objects.filter(**{f"{field}__in": codes[i:i + BATCH]}).values_list(field, flat=True))
    return found


def parse_sections(path: Path) -> dict[str, str]:
    sections: dict[str, str] = {}
    for line, row in _csv_rows(path, ("section", "name")):
        roman, name = row["section"].upper(), row["name"]
        if not _ROMAN.match(roman):
            raise HSDataError(path, line, f"bad section numeral {row['section']!r}")
        if not name:
            raise HSDataError(path, line, "empty section name")
        sections[roman] = name
    return sections


def sections_load(*, path: Path) -> LoadReport:
    sections = parse_sections(path)
    objs = [HSSection(roman=r, title_en=t, position=i) for i, (r, t) in enumerate(sections.items(), 1)]
    with transaction.atomic():
        existing = _existing(list(sections), HSSection, "roman")  # type: ignore[arg-type]
        HSSection.objects.bulk_create(objs, update_conflicts=True, unique_fields=["roman"],
                                      update_fields=["title_en", "position"])
        data_version_bump()
    return LoadReport(created=len(objs) - len(existing), updated=len(existing))


@dataclass(frozen=True)
class CodeRow:
    code: str
    level: Level
    section: str
    parent: str
    title_en: str


def parse_codes(path: Path) -> list[CodeRow]:
    """The nomenclature CSV: ``section,hscode,description,parent,level`` (levels 2, 4, 6)."""
    objs: dict[str, CodeRow] = {}
    for line, row in _csv_rows(path, ("section", "hscode", "description", "parent", "level")):
        code, parent, level_text = row["hscode"], row["parent"], row["level"]
        if code == _TOTAL or row["section"] == _TOTAL:
            continue
        if level_text not in ("2", "4", "6"):
            raise HSDataError(path, line, f"bad level {level_text!r} (expected 2, 4 or 6)")
        level = Level(int(level_text))
        if not (code.isdigit() and len(code) == level):
            raise HSDataError(path, line, f"bad code {code!r} for level {level_text}: expected {level_text} digits")
        parent_level = _PARENT_LEVEL[level]
        if parent_level is None:
            parent = ""
        elif not (parent.isdigit() and len(parent) == parent_level and code.startswith(parent)):
            raise HSDataError(path, line, f"bad parent {parent!r} for code {code}")
        section = row["section"].upper()
        if not _ROMAN.match(section):
            raise HSDataError(path, line, f"bad section {row['section']!r}")
        if not row["description"]:
            raise HSDataError(path, line, f"empty description for code {code}")
        if code in objs:
            raise HSDataError(path, line, f"code {code} appears twice")
        objs[code] = CodeRow(code=code, level=level, section=section, parent=parent, title_en=row["description"])
    for code, obj in objs.items():
        if obj.parent and obj.parent not in objs:
            raise HSDataError(path, None, f"code {code}: parent {obj.parent} is not in the file")
    return list(objs.values())


def codes_load(*, path: Path, progress: Progress | None = None) -> LoadReport:
    parsed = parse_codes(path)
    rows = [HSCode(code=r.code, level=r.level, section_id=r.section, parent_code=r.parent, title_en=r.title_en)
            for r in parsed]
    progress = progress or _NoProgress()
    progress.total = len(rows)
    with transaction.atomic():
        existing = _existing([r.code for r in rows], HSCode, "code")
        for i in range(0, len(rows), BATCH):
            batch = rows[i:i + BATCH]
            HSCode.objects.bulk_create(batch, update_conflicts=True, unique_fields=["code"],
                                       update_fields=["level", "section", "parent_code", "title_en"])
            progress.advance(len(batch))
        data_version_bump()
    return LoadReport(created=len(rows) - len(existing), updated=len(existing))


def parse_titles_ko(path: Path, level: Level) -> dict[str, str]:
    """Korean titles: ``hs4,title_ko`` or ``hs6,title_ko`` (a path ``말 > 번식용``)."""
    column = f"hs{int(level)}"
    titles: dict[str, str] = {}
    for line, row in _csv_rows(path, (column, "title_ko")):
        code = row[column]
        if not (code.isdigit() and len(code) == level):
            raise HSDataError(path, line, f"bad code {code!r}: expected {int(level)} digits")
        if not row["title_ko"]:
            raise HSDataError(path, line, f"empty Korean title for {code}")
        titles[code] = row["title_ko"]
    return titles


def titles_ko_load(*, path: Path, level: Level, progress: Progress | None = None) -> LoadReport:
    titles = parse_titles_ko(path, level)
    progress = progress or _NoProgress()
    report = LoadReport()
    with transaction.atomic():
        codes = list(titles)
        targets: list[HSCode] = []
        for i in range(0, len(codes), BATCH):
            targets.extend(HSCode.objects.filter(level=level, code__in=codes[i:i + BATCH]).only("id", "code"))
        for obj in targets:
            obj.title_ko = titles[obj.code]
        progress.total = len(targets)
        for i in range(0, len(targets), BATCH):
            batch = targets[i:i + BATCH]
            HSCode.objects.bulk_update(batch, ["title_ko"])
            progress.advance(len(batch))
        report.updated, report.skipped = len(targets), len(titles) - len(targets)
        data_version_bump()
    return report


def example_digest(name: str, hsk_code: str) -> str:
    return hashlib.sha256(f"{hsk_code}\x00{name}".encode()).hexdigest()


def parse_examples(path: Path) -> dict[str, tuple[str, str]]:
    """JSON lines ``{"product_name": …, "hs_code": "0204100000"}``: HSK codes, 10 digits.

    Keyed by ``example_digest``; the same name and code twice is one example."""
    parsed: dict[str, tuple[str, str]] = {}
    try:
        handle = path.open(encoding="utf-8")
    except OSError as exc:
        raise HSDataError(path, None, f"cannot open: {exc.strerror}") from exc
    with handle:
        try:
            for line_no, raw in enumerate(handle, 1):
                if not raw.strip():
                    continue
                try:
                    item = json.loads(raw)
                except json.JSONDecodeError as exc:
                    raise HSDataError(path, line_no, f"not JSON ({exc.msg})") from exc
                if not isinstance(item, dict):
                    raise HSDataError(path, line_no, "not a JSON object")
                name, code = item.get("product_name"), item.get("hs_code")
                if not isinstance(name, str) or not name.strip():
                    raise HSDataError(path, line_no, "missing or empty product_name")
                if not isinstance(code, str) or not (code.isdigit() and len(code) == 10):
                    raise HSDataError(path, line_no, f"bad hs_code {code!r}: expected 10 digits")
                name = " ".join(name.split())
                parsed[example_digest(name, code)] = (name, code)
        except UnicodeDecodeError as exc:
            raise HSDataError(path, None, f"not UTF-8: {exc.reason}") from exc
    return parsed


def examples_load(*, path: Path, progress: Progress | None = None) -> LoadReport:
    parsed = parse_examples(path)
    progress = progress or _NoProgress()
    report = LoadReport()
    with transaction.atomic():
        subheadings = dict(HSCode.objects.filter(level=Level.SUBHEADING).values_list("code", "id"))
        objs = []
        for digest, (name, code) in parsed.items():
            subheading_id = subheadings.get(code[:6])
            if subheading_id is None:
                # e.g. HS 2017 codes split in HS 2022: no loaded subheading to stand behind them.
                report.skipped += 1
                continue
            objs.append(HSProductExample(name=name, hsk_code=code, subheading_id=subheading_id, digest=digest))
        existing = _existing([o.digest for o in objs], HSProductExample, "digest")
        progress.total = len(objs)
        for i in range(0, len(objs), BATCH):
            batch = objs[i:i + BATCH]
            HSProductExample.objects.bulk_create(batch, update_conflicts=True, unique_fields=["digest"],
                                                 update_fields=["name", "hsk_code", "subheading"])
            progress.advance(len(batch))
        report.created, report.updated = len(objs) - len(existing), len(existing)
        data_version_bump()
    return report
