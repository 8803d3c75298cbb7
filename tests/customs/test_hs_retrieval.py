"""Retrieval: Korean and English, synonyms, the analyser, and the per-process index."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from conversations.aio import run_db
from customs.hs import index as hs_index
from customs.hs.classifier import classify_offline
from customs.hs.models import HSCode
from customs.hs.retrieval import MAX_OFFLINE_CONFIDENCE, Entry, Example, HSIndex, confidence
from customs.hs.selectors import data_version
from customs.hs.text import analyzer
from tests.customs.hs_fixtures import CODES, HS4_KO, HS6_KO, PRODUCTS, REAL_DATA, load


@pytest.fixture(scope="module")
def small_index() -> HSIndex:
    headings = [Entry(c, t, HS4_KO.get(c, "")) for _, c, t, _, level in CODES if level == "4"]
    subheadings = [Entry(c, t, HS6_KO.get(c, "")) for _, c, t, _, level in CODES if level == "6"]
    return HSIndex(headings=headings, subheadings=subheadings, examples=[Example(n, c) for n, c in PRODUCTS])


@pytest.mark.parametrize("query", ["무선 이어폰", "블루투스 헤드셋", "earbuds"])
def test_earphones_in_korean_and_english_reach_the_same_heading(small_index: HSIndex, query: str) -> None:
    candidates = small_index.search(query)
    assert candidates[0].hs4 == "8518"
    assert candidates[0].hs6 == "851830"


@pytest.mark.parametrize(("query", "hs6"), [
    ("스마트폰", "851713"), ("smartphone", "851713"), ("headphones with microphone", "851830"),
    ("면 티셔츠", "610910"), ("cotton T-shirts", "610910"), ("노트북", "847130"),
    ("금속 프레임 의자", "940171"), ("seats with wooden frames", "940161"),
])
def test_korean_and_english_descriptions_find_their_subheading(small_index: HSIndex, query: str, hs6: str) -> None:
    assert small_index.search(query)[0].hs6 == hs6


def test_alternatives_reach_other_headings(small_index: HSIndex) -> None:
    candidates = small_index.search("스마트폰 케이스", k=5)
    assert len({c.hs4 for c in candidates}) >= 2
    assert all(sum(c.hs4 == h for c in candidates) <= 2 for h in {c.hs4 for c in candidates})


def test_words_of_the_request_and_unknown_words_find_nothing(small_index: HSIndex) -> None:
    assert small_index.search("HS코드 알려주세요") == []
    assert small_index.search("qwxyz 뷁") == []


def test_the_analyser_stems_english_and_keeps_korean_nouns() -> None:
    assert analyzer.analyze("Headphones and earphones; of cotton") == ["headphon", "earphon", "cotton"]
    assert analyzer.analyze("블루투스 무선 이어폰의 HS코드를 알려줘") == ["블루투스", "무선", "이어폰"]


def test_the_analyser_gives_the_same_terms_from_many_threads() -> None:
    texts = [name for name, _ in PRODUCTS] * 20
    expected = [analyzer.analyze(t) for t in texts]
    with ThreadPoolExecutor(max_workers=8) as pool:
        assert list(pool.map(analyzer.analyze, texts)) == expected


def test_confidence_is_bounded_and_higher_for_a_clear_description(small_index: HSIndex) -> None:
    clear = classify_offline(index=small_index, description="블루투스 무선 이어폰 헤드폰")
    vague = classify_offline(index=small_index, description="스마트폰 케이스")
    assert 0 <= vague.confidence < clear.confidence <= MAX_OFFLINE_CONFIDENCE
    assert confidence([], terms=0) == 0.0


@pytest.mark.django_db(transaction=True)
async def test_the_index_is_built_once_per_data_version_off_the_event_loop(
        hs_files: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    await run_db(load, hs_files)
    built_in: list[str] = []
    real_build = hs_index.build

    def recording_build(source: Any) -> Any:
        built_in.append(threading.current_thread().name)
        return real_build(source)

    monkeypatch.setattr(hs_index, "build", recording_build)
    version = await run_db(data_version)
    first = await hs_index.current_index(version=version)
    assert await hs_index.current_index(version=version) is first
    assert len(built_in) == 1 and built_in[0].startswith("hs") and built_in[0] != threading.main_thread().name

    def rename() -> None:
        # An admin edit: the model's save signal moves the data version.
        code = HSCode.objects.get(code="851830")
        code.title_ko = "헤드폰과 이어폰 및 이어버드"
        code.save()

    await run_db(rename)
    new_version = await run_db(data_version)
    assert new_version != version
    second = await hs_index.current_index(version=new_version)
    assert second is not first and second.titles["851830"] == "헤드폰과 이어폰 및 이어버드"
    assert len(built_in) == 2


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
async def test_the_real_files_load_twice_the_same_and_find_earphones(customs_session: Any) -> None:
    files = {"file": REAL_DATA / "harmonized-system.csv", "sections": REAL_DATA / "sections.csv",
             "hs4_ko": REAL_DATA / "hs4_ko.csv", "hs6_ko": REAL_DATA / "hs6_ko.csv",
             "products": REAL_DATA / "ko_product_names.jsonl"}

    def load_and_count() -> tuple[int, int, int]:
        load(files)
        return (HSCode.objects.filter(level=4).count(), HSCode.objects.filter(level=6).count(),
                HSCode.objects.filter(level=6, title_ko="").count())

    assert await run_db(load_and_count) == (1228, 5612, 0)
    assert await run_db(load_and_count) == (1228, 5612, 0)
    loaded = await hs_index.current_index(version=await run_db(data_version))
    assert 7000 < len(loaded.index.examples) < 7063  # HS 2017 codes without a 2022 subheading are left out
    for query in ("무선 이어폰", "블루투스 헤드셋", "earbuds"):
        assert loaded.index.search(query)[0].hs6 == "851830", query
