"""BM25 retrieval of HS candidates over the nomenclature titles and the product examples.

Pure Python over plain data (no Django): ``customs.hs.selectors`` feeds it from the
database, ``bench/hs_quality.py`` from the files. Text in Korean and English goes through
one analyser: Kiwi morphemes for Korean (nouns, roots, foreign words), lower-cased and
lightly stemmed English, plus a small bilingual synonym table on the query side.

Two BM25 indexes are kept because their documents differ in kind: nomenclature titles
(legal wording, one per heading and subheading) and product examples (trade names as
published, often mixed Korean/English). A subheading's score combines its own title,
its heading's title and the votes of the examples classified in it.
"""

from __future__ import annotations

import math
import re
import threading
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import bm25s
import numpy as np

# Kiwi tags kept: general and proper nouns, roots, foreign words, Chinese characters.
_KEEP_TAGS = frozenset({"NNG", "NNP", "XR", "SL", "SH"})
_EN_STOP = frozenset(
    "a an and or of the for with without not whether other than in on to by from as its their"
    " be is are n.e.c nec kind kinds used such including excluding thereof".split()
)
# Words of a request, not of a product ("스마트폰 HS코드 알려줘").
_KO_STOP = frozenset("기타 것 등 류 제 호 코드 부호 분류 품목 품목분류 세번 번호 관세 수입 수출 제품 물건 상품 "
                     "종류 문의 질문 어떤 무엇 뭐 거 정도 해당 경우 이것 그것 저것 한정".split())
_EN_REQUEST_STOP = frozenset("hs hscode code tariff classification classify what which please product item".split())

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
    "노트북": ("컴퓨터", "자동자료처리기계", "portable", "computer"),
    "laptop": ("노트북", "portable", "computer"),
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


class Analyzer:
    """Kiwi and the Snowball English stemmer, loaded once per process on first use;
    safe to share between threads."""

    def __init__(self) -> None:
        self._kiwi: Any = None
        self._lock = threading.Lock()
        # PyStemmer's stemmers keep a cache that is not thread-safe: one per thread.
        self._local = threading.local()
        self._synonyms: dict[str, tuple[str, ...]] | None = None

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
            tokens = kiwi.tokenize(text)
        return self._terms(tokens)

    def analyze_many(self, texts: Sequence[str]) -> list[list[str]]:
        kiwi = self._get()
        with self._lock:
            # The list form runs Kiwi's own worker threads: 15x faster for index builds.
            results = list(kiwi.tokenize(list(texts)))
        return [self._terms(tokens) for tokens in results]


analyzer = Analyzer()


@dataclass(frozen=True)
class Entry:
    code: str  # 4 or 6 digits
    title_en: str
    title_ko: str = ""


@dataclass(frozen=True)
class Example:
    name: str
    hsk_code: str  # 10 digits; the first 6 are the subheading


@dataclass
class Candidate:
    hs6: str
    score: float
    title_score: float
    example_score: float
    examples: list[Example] = field(default_factory=list)  # best supporting examples first
    # Its first example is the best-matching example of the whole index.
    leads_examples: bool = False

    @property
    def hs4(self) -> str:
        return self.hs6[:4]


@dataclass(frozen=True)
class Weights:
    """How the three signals combine; chosen on a development split (see bench)."""

    subheading: float = 1.0
    heading: float = 0.6
    examples: float = 1.4
    top_examples: int = 40  # examples that vote
    vote_decay: float = 0.85  # weight of the n-th vote of one subheading: decay**n


def _bm25(corpus: list[list[str]]) -> bm25s.BM25:
    model = bm25s.BM25(k1=1.2, b=0.75)
    # An empty document would break the index: it gets one token nobody queries.
    model.index([doc or ["\x00"] for doc in corpus], show_progress=False)
    return model


class HSIndex:
    """Immutable once built; ``search`` may run in several threads at once."""

    def __init__(self, *, headings: Sequence[Entry], subheadings: Sequence[Entry],
                 examples: Sequence[Example], weights: Weights | None = None) -> None:
        self.weights = weights or Weights()
        self.headings = {e.code: e for e in headings}
        self.subheadings = {e.code: e for e in subheadings if e.code[:4] in self.headings}
        self.examples = [x for x in examples if x.hsk_code[:6] in self.subheadings]
        self.example_codes = frozenset(x.hsk_code for x in self.examples)
        self._sub_codes = sorted(self.subheadings)
        self._sub_pos = {code: i for i, code in enumerate(self._sub_codes)}
        self._head_codes = sorted(self.headings)
        self._head_pos = {code: i for i, code in enumerate(self._head_codes)}
        # Every subheading's heading row, for spreading heading scores to subheadings.
        self._sub_head = np.array([self._head_pos[c[:4]] for c in self._sub_codes], dtype=np.int64)
        self._ex_sub = np.array([self._sub_pos[x.hsk_code[:6]] for x in self.examples], dtype=np.int64)

        texts = [f"{self.subheadings[c].title_en} {self.subheadings[c].title_ko}" for c in self._sub_codes]
        texts += [f"{self.headings[c].title_en} {self.headings[c].title_ko}" for c in self._head_codes]
        texts += [x.name for x in self.examples]
        analysed = analyzer.analyze_many(texts)
        n_sub, n_head = len(self._sub_codes), len(self._head_codes)
        self._titles = _bm25(analysed[: n_sub + n_head])
        self._examples = _bm25(analysed[n_sub + n_head:]) if self.examples else None
        self._n_sub = n_sub
        self.vocabulary = frozenset(t for doc in analysed for t in doc)

    def __len__(self) -> int:
        return len(self._sub_codes)

    def query_terms(self, text: str) -> dict[str, float]:
        """The query's terms with their weights: its own words 1, synonyms less."""
        weights: dict[str, float] = {}
        for term in analyzer.analyze(text):
            weights[term] = 1.0
        synonyms = analyzer.synonyms()
        for term in list(weights):
            for synonym in synonyms.get(term, ()):
                weights.setdefault(synonym, SYNONYM_WEIGHT)
        return {t: w for t, w in weights.items() if t in self.vocabulary}

    @staticmethod
    def _scores(model: bm25s.BM25, terms: dict[str, float], size: int) -> np.ndarray:
        total = np.zeros(size, dtype=np.float32)
        by_weight: dict[float, list[str]] = defaultdict(list)
        for term, weight in terms.items():
            by_weight[weight].append(term)
        for weight, group in by_weight.items():
            total += weight * model.get_scores(group)
        return total

    def search(self, text: str, *, k: int = 5) -> list[Candidate]:
        terms = self.query_terms(text)
        if not terms:
            return []
        w = self.weights
        titles = self._scores(self._titles, terms, self._n_sub + len(self._head_codes))
        sub_title, head_title = titles[: self._n_sub], titles[self._n_sub:]
        title_score = w.subheading * sub_title + w.heading * head_title[self._sub_head]

        example_score = np.zeros(self._n_sub, dtype=np.float32)
        support: dict[int, list[int]] = defaultdict(list)
        best_example = -1
        if self._examples is not None:
            ex = self._scores(self._examples, terms, len(self.examples))
            top = np.argsort(-ex)[: w.top_examples]
            best_example = int(top[0]) if top.size and ex[top[0]] > 0 else -1
            for i in top:
                if ex[i] <= 0:
                    break
                sub = int(self._ex_sub[i])
                votes = support[sub]
                example_score[sub] += ex[i] * (w.vote_decay ** len(votes))
                votes.append(int(i))
        # Each signal on the scale of its best match, so neither index dominates by its
        # own score range (titles are short and legal, examples long and noisy).
        total = np.zeros(self._n_sub, dtype=np.float32)
        for signal, weight in ((title_score, 1.0), (example_score, w.examples)):
            peak = float(signal.max()) if signal.size else 0.0
            if peak > 0:
                total += weight * signal / peak
        order = np.argsort(-total)[:k]
        return [
            Candidate(hs6=self._sub_codes[i], score=float(total[i]), title_score=float(title_score[i]),
                      example_score=float(example_score[i]),
                      examples=[self.examples[j] for j in support.get(int(i), [])][:3],
                      leads_examples=bool(support.get(int(i))) and support[int(i)][0] == best_example)
            for i in order if total[i] > 0
        ]


def confidence(candidates: Sequence[Candidate]) -> float:
    """How sure retrieval alone is of the first candidate, from the score distribution.

    The first candidate's share of the top five's scores, sharpened, then scaled to at most
    0.8: BM25 cannot read a product the way an examiner does, so retrieval alone never
    claims more than that (the benchmark prints how this figure tracks accuracy).
    """
    if not candidates:
        return 0.0
    scores = np.array([c.score for c in candidates[:5]], dtype=np.float64)
    shares = np.exp(3.0 * scores / max(scores[0], 1e-9))
    share = float(shares[0] / shares.sum())
    same_heading = sum(c.score for c in candidates[:5] if c.hs4 == candidates[0].hs4) / float(scores.sum())
    return round(min(0.8, 0.8 * math.sqrt(share * same_heading) + 0.1 * share), 2)
