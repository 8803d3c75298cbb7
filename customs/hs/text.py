"""Text analysis for HS retrieval: Kiwi morphemes for Korean, Snowball-stemmed English,
request and paperwork stopwords, and a small bilingual synonym table."""

from __future__ import annotations

import os
import re
import threading
import unicodedata
from collections.abc import Iterable, Sequence
from typing import Any

# Kiwi tags kept: general and proper nouns, roots, foreign words, Chinese characters.
_KEEP_TAGS = frozenset({"NNG", "NNP", "XR", "SL", "SH"})
_EN_STOP = frozenset(
    "a an and or of the for with without not whether other than in on to by from as its their"
    " be is are n.e.c nec kind kinds used such including excluding thereof".split()
)
# Words of a request, not of a product ("스마트폰 HS코드 알려줘").
_KO_STOP = frozenset("기타 것 등 류 제 호 코드 부호 분류 품목 품목분류 세번 번호 관세 수입 수출 제품 물건 상품 "
                     "종류 문의 질문 어떤 무엇 뭐 거 정도 해당 경우 이것 그것 저것 한정 "
                     # The paperwork words of published cases ("제시품명", "모델", "규격") and
                     # countries of origin: in every chapter, about none.
                     "품명 품 명 제시 제시품명 신청 신청인 모델 규격 자료 일명 사양 중국 한국 일본 미국 독일 대만 "
                     "베트남 태국 인도 인도네시아 말레이시아 이탈리아 프랑스 영국 스페인 캐나다 호주".split())
_EN_REQUEST_STOP = frozenset("hs hscode code tariff classification classify what which please product item "
                             "model prchna prchina rkorea china korea japan usa vietnam germany taiwan".split())

# Bilingual synonyms the nomenclature's wording does not cover (query side only).
SYNONYMS: dict[str, tuple[str, ...]] = {
    "earbud": ("earphone", "이어폰"),
    "earphone": ("이어폰", "headphone"),
    "이어폰": ("earphone", "헤드폰"),
    "헤드폰": ("headphone", "이어폰"),
    "headphone": ("헤드폰", "earphone"),
    "헤드셋": ("헤드폰", "이어폰", "headphone", "마이크로"),
    "headset": ("헤드폰", "headphone", "earphone", "microphone"),
    "무선": ("wireless",),
    "블루투스": ("무선", "wireless"),
    "bluetooth": ("무선", "wireless"),
    "wireless": ("무선",),
    "스마트폰": ("smartphone", "전화기", "셀룰러"),
    "smartphone": ("스마트폰", "전화기", "telephone"),
    "휴대폰": ("스마트폰", "전화기", "telephone"),
    "핸드폰": ("스마트폰", "전화기", "telephone"),
    "노트북": ("컴퓨터", "자동자료처리기계", "휴대용", "portable", "computer"),
    "laptop": ("노트북", "휴대용", "portable", "computer"),
    "컴퓨터": ("자동자료처리기계", "computer"),
    "티셔츠": ("t-shirt", "singlet"),
    "t-shirt": ("티셔츠",),
    "tv": ("텔레비전", "television"),
    "텔레비전": ("television",),
    "냉장고": ("refrigerator",),
    "refrigerator": ("냉장고",),
    "자동차": ("vehicle", "motor", "차량"),
    "car": ("자동차", "vehicle"),
    "신발": ("footwear", "신변"),
    "shoe": ("신발", "footwear"),
    "가방": ("bag", "핸드백", "container"),
    "bag": ("가방",),
    "장난감": ("toy", "완구"),
    "toy": ("완구", "장난감"),
    "완구": ("toy",),
    "화장품": ("cosmetic", "미용"),
    "cosmetic": ("화장품", "미용"),
    "충전기": ("charger", "정지형변환기"),
    "charger": ("충전기",),
    "배터리": ("battery", "축전지", "전지"),
    "battery": ("배터리", "축전지"),
    "커피": ("coffee",),
    "coffee": ("커피",),
    "와인": ("wine", "포도주"),
    "wine": ("와인", "포도주"),
    "맥주": ("beer",),
    "beer": ("맥주",),
    "시계": ("watch", "clock"),
    "watch": ("시계",),
}
SYNONYM_WEIGHT = 0.5


_SPLIT_EN = re.compile(r"[^a-z0-9\-]+")


def _latin_folding() -> dict[int, str]:
    """Accented Latin letters to plain ones ("maté" is "mate", not "mat" + "é"); Hangul
    is left alone (NFKD would break its syllables into letters)."""
    table = {}
    for code in range(0xC0, 0x250):
        plain = "".join(c for c in unicodedata.normalize("NFKD", chr(code)) if c.isascii())
        if plain and plain != chr(code):
            table[code] = plain
    return table


_FOLD = _latin_folding()


_INHERITED: list[Any] = []


class Analyzer:
    """Kiwi and the Snowball English stemmer, loaded once per process on first use;
    safe to share between threads."""

    def __init__(self) -> None:
        self._kiwi: Any = None
        self._lock = threading.Lock()
        # PyStemmer's stemmers keep a cache that is not thread-safe: one per thread.
        self._local = threading.local()
        self._synonyms: dict[str, tuple[str, ...]] | None = None

    def forget_after_fork(self) -> None:
        # Kiwi's worker threads do not survive a fork: a forked child (a test's live server,
        # a pre-forking server) loads its own instead of waiting on dead threads. The old
        # instance is kept, never freed: its destructor would wait for those threads.
        if self._kiwi is not None:
            _INHERITED.append(self._kiwi)
        self._kiwi, self._lock, self._local = None, threading.Lock(), threading.local()

    def _get(self) -> Any:
        if self._kiwi is None:
            with self._lock:
                if self._kiwi is None:
                    from kiwipiepy import Kiwi

                    self._kiwi = Kiwi()
        return self._kiwi

    def _stemmer(self) -> Any:
        stemmer = getattr(self._local, "stemmer", None)
        if stemmer is None:
            import Stemmer

            stemmer = self._local.stemmer = Stemmer.Stemmer("english")
        return stemmer

    def _terms(self, tokens: Iterable[Any]) -> list[str]:
        terms: list[str] = []
        stem = self._stemmer().stemWord
        for token in tokens:
            if token.tag not in _KEEP_TAGS:
                continue
            if token.tag == "SL":
                for word in _SPLIT_EN.split(token.form.lower()):
                    word = word.strip("-")
                    if len(word) > 1 and word not in _EN_STOP and word not in _EN_REQUEST_STOP:
                        terms.append(stem(word))
            elif token.form not in _KO_STOP:
                terms.append(token.form)
        return terms

    def synonyms(self) -> dict[str, tuple[str, ...]]:
        """``SYNONYMS`` in analysed form (stemmed English, Kiwi's Korean morphemes)."""
        if self._synonyms is None:
            table: dict[str, list[str]] = {}
            for key, values in SYNONYMS.items():
                for term in self.analyze(key):
                    bucket = table.setdefault(term, [])
                    bucket.extend(t for v in values for t in self.analyze(v) if t not in bucket and t != term)
            self._synonyms = {k: tuple(v) for k, v in table.items()}
        return self._synonyms

    def analyze(self, text: str) -> list[str]:
        kiwi = self._get()
        # Kiwi's tokenizer is documented thread-safe, but its lazily built caches are
        # not worth the risk for a sub-millisecond call: one caller at a time.
        with self._lock:
            tokens = kiwi.tokenize(text.translate(_FOLD))
        return self._terms(tokens)

    def analyze_many(self, texts: Sequence[str]) -> list[list[str]]:
        kiwi = self._get()
        with self._lock:
            # The list form runs Kiwi's own worker threads: 15x faster for index builds.
            results = list(kiwi.tokenize([t.translate(_FOLD) for t in texts]))
        return [self._terms(tokens) for tokens in results]


analyzer = Analyzer()
os.register_at_fork(after_in_child=analyzer.forget_after_fork)
