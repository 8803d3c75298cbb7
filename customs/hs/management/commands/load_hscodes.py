"""Load the HS nomenclature, its Korean titles and the Korean product examples."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from conversations.management import ProgressBar
from customs.hs.loading import (
    HSDataError,
    LoadReport,
    codes_load,
    examples_load,
    sections_load,
    titles_ko_load,
)
from customs.hs.models import HSCode, Level


class Command(BaseCommand):
    verbose = True
    help = (
        "Load the HS 2022 nomenclature (sections, chapters, headings, subheadings) from "
        "harmonized-system.csv, and optionally the section names, the Korean titles of headings "
        "and subheadings and the Korean product names with their decided 10-digit codes. "
        "Idempotent: running it again updates rows in place. A malformed file stops with its "
        "line number and writes nothing of that file."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--file", type=Path, help="harmonized-system.csv (section,hscode,description,parent,level)")
        parser.add_argument("--sections", type=Path, help="sections.csv (section,name)")
        parser.add_argument("--hs4-ko", type=Path, dest="hs4_ko", help="hs4_ko.csv (hs4,title_ko)")
        parser.add_argument("--hs6-ko", type=Path, dest="hs6_ko", help="hs6_ko.csv (hs6,title_ko)")
        parser.add_argument("--products", type=Path,
                            help="ko_product_names.jsonl ({\"product_name\", \"hs_code\"} per line)")

    def handle(self, *args: Any, file: Path | None, sections: Path | None, hs4_ko: Path | None,
               hs6_ko: Path | None, products: Path | None, **options: Any) -> None:
        paths = [p for p in (file, sections, hs4_ko, hs6_ko, products) if p is not None]
        if not paths:
            raise CommandError("Nothing to load: give --file (and optionally --sections, --hs4-ko, --hs6-ko, "
                               "--products).")
        for path in paths:
            if not path.is_file():
                raise CommandError(f"No such file: {path}")
        if file is None and not HSCode.objects.exists():
            raise CommandError("The nomenclature is not loaded yet: give --file first.")
        verbose = self.verbose = options.get("verbosity", 1) >= 1
        try:
            if sections is not None:
                self._report("sections", sections_load(path=sections))
            if file is not None:
                bar = self._bar("HS codes", verbose)
                self._report("HS codes", codes_load(path=file, progress=bar), bar)
            for titles, level, label in ((hs4_ko, Level.HEADING, "Korean heading titles"),
                                         (hs6_ko, Level.SUBHEADING, "Korean subheading titles")):
                if titles is not None:
                    bar = self._bar(label, verbose)
                    self._report(label, titles_ko_load(path=titles, level=level, progress=bar), bar)
            if products is not None:
                bar = self._bar("Product examples", verbose)
                self._report("product examples", examples_load(path=products, progress=bar), bar)
        except HSDataError as exc:
            raise CommandError(str(exc)) from exc

    def _bar(self, label: str, enabled: bool) -> ProgressBar:
        # The loader sets the total once it has parsed the file.
        return ProgressBar(self.stderr, total=0, label=label, every=1000, enabled=enabled)

    def _report(self, label: str, report: LoadReport, bar: ProgressBar | None = None) -> None:
        if bar is not None and bar.done:
            bar.finish()
        if not self.verbose:
            return
        line = f"{label}: {report.created} created, {report.updated} updated"
        if report.skipped:
            line += f", {report.skipped} skipped (code not in the loaded nomenclature)"
        self.stdout.write(self.style.SUCCESS(line))

