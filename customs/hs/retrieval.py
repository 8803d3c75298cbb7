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
import unicodedata
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
            tokens = kiwi.tokenize(text.translate(_FOLD))
        return self._terms(tokens)

    def analyze_many(self, texts: Sequence[str]) -> list[list[str]]:
        kiwi = self._get()
        with self._lock:
            # The list form runs Kiwi's own worker threads: 15x faster for index builds.
            results = list(kiwi.tokenize([t.translate(_FOLD) for t in texts]))
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
    heading_score: float = 0.0
    vote_share: float = 0.0  # its share of all the nearest examples' votes

    @property
    def hs4(self) -> str:
        return self.hs6[:4]


@dataclass(frozen=True)
class Weights:
    """How the signals combine; chosen on a development split (see bench/hs_quality.py)."""

    # Heading ranking.
    head_title: float = 1.0
    head_votes: float = 1.0
    head_profile: float = 0.5
    # Subheading ranking inside a heading.
    within: float = 0.5
    sub_title: float = 1.0
    sub_votes: float = 1.0
    top_examples: int = 20  # nearest examples that vote
    vote_decay: float = 0.7  # weight of a subheading's n-th vote: decay**n
    profile_b: float = 0.3  # BM25 length normalisation of the (long) heading profiles
    coverage: float = 0.5  # exponent of the share of the query's words a heading covers


def _bm25(corpus: list[list[str]], *, b: float = 0.75) -> bm25s.BM25:
    model = bm25s.BM25(k1=1.2, b=b)
    # An empty document would break the index: it gets one token nobody queries.
    model.index([doc or ["\x00"] for doc in corpus], show_progress=False)
    return model


def _norm(signal: np.ndarray) -> np.ndarray:
    """A signal on the scale of its best match, so no index dominates by its own score
    range (titles are short and legal, examples long and noisy)."""
    peak = float(signal.max()) if signal.size else 0.0
    return signal / peak if peak > 0 else signal


class HSIndex:
    """Immutable once built; ``search`` may run in several threads at once.

    Headings are ranked first, from three signals: their own and their subheadings'
    titles, the votes of the nearest product examples, and a "profile" document per
    heading (its title and all its examples' names, the heading's trade vocabulary).
    Subheadings are then ranked inside their heading by title and votes.
    """

    def __init__(self, *, headings: Sequence[Entry], subheadings: Sequence[Entry],
                 examples: Sequence[Example], weights: Weights | None = None) -> None:
        self.weights = w = weights or Weights()
        self.headings = {e.code: e for e in headings}
        self.subheadings = {e.code: e for e in subheadings if e.code[:4] in self.headings}
        self.examples = [x for x in examples if x.hsk_code[:6] in self.subheadings]
        self.example_codes = frozenset(x.hsk_code for x in self.examples)
        self._sub_codes = sorted(self.subheadings)
        self._sub_pos = {code: i for i, code in enumerate(self._sub_codes)}
        self._head_codes = sorted(self.headings)
        self._head_pos = {code: i for i, code in enumerate(self._head_codes)}
        self._sub_head = np.array([self._head_pos[c[:4]] for c in self._sub_codes], dtype=np.int64)
        self._ex_sub = np.array([self._sub_pos[x.hsk_code[:6]] for x in self.examples], dtype=np.int64)

        texts = [f"{self.subheadings[c].title_en} {self.subheadings[c].title_ko}" for c in self._sub_codes]
        texts += [f"{self.headings[c].title_en} {self.headings[c].title_ko}" for c in self._head_codes]
        texts += [x.name for x in self.examples]
        analysed = analyzer.analyze_many(texts)
        n_sub, n_head = len(self._sub_codes), len(self._head_codes)
        self._n_sub, self._n_head = n_sub, n_head
        self._titles = _bm25(analysed[: n_sub + n_head])
        example_docs = analysed[n_sub + n_head:]
        self._examples = _bm25(example_docs) if self.examples else None
        profiles = [list(doc) for doc in analysed[n_sub: n_sub + n_head]]
        for example, doc in zip(self.examples, example_docs, strict=True):
            profiles[self._head_pos[example.hsk_code[:4]]].extend(doc)
        self._profiles = _bm25(profiles, b=w.profile_b)
        self.vocabulary = frozenset(t for doc in analysed for t in doc)

    def __len__(self) -> int:
        return len(self._sub_codes)

    def query(self, text: str) -> tuple[dict[str, float], list[tuple[str, ...]]]:
        """The query's terms with their weights, and its own words' groups (each with its
        synonyms). Own words weigh 1, synonyms less, unless the own word is unknown to
        the index: then its synonyms stand in for it at full weight ("earbuds")."""
        weights: dict[str, float] = {}
        groups: list[tuple[str, ...]] = []
        synonyms = analyzer.synonyms()
        own = list(dict.fromkeys(analyzer.analyze(text)))
        for term in own:
            if term in self.vocabulary:
                weights[term] = 1.0
        for term in own:
            known = tuple(s for s in synonyms.get(term, ()) if s in self.vocabulary)
            weight = SYNONYM_WEIGHT if term in self.vocabulary else 1.0
            for synonym in known:
                weights[synonym] = max(weights.get(synonym, 0.0), weight)
            group = ((term,) if term in self.vocabulary else ()) + known
            if group:
                groups.append(group)
        return weights, groups

    def query_terms(self, text: str) -> dict[str, float]:
        return self.query(text)[0]

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
        terms, groups = self.query(text)
        if not terms:
            return []
        w = self.weights
        titles = self._scores(self._titles, terms, self._n_sub + self._n_head)
        sub_title, head_title = titles[: self._n_sub], titles[self._n_sub:]
        best_sub_title = np.zeros(self._n_head, dtype=np.float32)
        np.maximum.at(best_sub_title, self._sub_head, sub_title)

        sub_votes = np.zeros(self._n_sub, dtype=np.float32)
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
                sub_votes[sub] += ex[i] * (w.vote_decay ** len(votes))
                votes.append(int(i))
        head_votes = np.bincount(self._sub_head, weights=sub_votes, minlength=self._n_head).astype(np.float32)
        profile = np.zeros(self._n_head, dtype=np.float32)
        matched: dict[str, np.ndarray] = {}
        for term, weight in terms.items():
            single = self._profiles.get_scores([term])
            profile += weight * single
            matched[term] = single > 0
        # The share of the user's words a heading's vocabulary covers: a heading that
        # matches "이어폰" and "무선" beats one that matches only the commoner word many times.
        coverage = np.zeros(self._n_head, dtype=np.float32)
        for group in groups:
            coverage += np.logical_or.reduce([matched[t] for t in group])
        coverage /= max(len(groups), 1)

        head = (w.head_title * _norm(head_title + best_sub_title) + w.head_votes * _norm(head_votes)
                + w.head_profile * _norm(profile)) * coverage ** w.coverage
        within = w.sub_title * _norm(sub_title) + w.sub_votes * _norm(sub_votes)
        total = head[self._sub_head] + w.within * within
        title_score = sub_title + head_title[self._sub_head]
        # At most two subheadings of one heading: the alternatives shown to a user (and
        # the benchmark's top-3 headings) must reach other headings too.
        picked: list[int] = []
        per_heading: dict[int, int] = defaultdict(int)
        for i in np.argsort(-total)[: k * 8]:
            if total[i] <= 0 or len(picked) == k:
                break
            h = int(self._sub_head[i])
            if per_heading[h] < 2:
                per_heading[h] += 1
                picked.append(int(i))
        vote_total = float(sub_votes.sum())
        return [
            Candidate(hs6=self._sub_codes[i], score=float(total[i]), title_score=float(title_score[i]),
                      example_score=float(sub_votes[i]), heading_score=float(head[self._sub_head[i]]),
                      vote_share=float(sub_votes[i]) / vote_total if vote_total else 0.0,
                      examples=[self.examples[j] for j in support.get(i, [])][:3],
                      leads_examples=bool(support.get(i)) and support[i][0] == best_example)
            for i in picked
        ]


# Logistic fit of "the first candidate's subheading is right" on the benchmark's
# development split (never the hold-out): bias, heading margin, score margin, vote share,
# title matched, log(1 + query terms).
_CONFIDENCE_WEIGHTS = (-4.69, 2.22, 4.35, 2.81, 0.28, 1.34)
# Retrieval alone never claims more than this: it matches words, it does not examine goods.
MAX_OFFLINE_CONFIDENCE = 0.9


def confidence(candidates: Sequence[Candidate], *, terms: int) -> float:
    """The probability that the first candidate is right, estimated from how far it leads
    (its heading over the next heading, its score over the next candidate), how many of the
    nearest examples vote for it and how much the query said. Calibrated on the
    development split; ``bench/hs_quality.py`` prints how it tracks accuracy on the hold-out."""
    if not candidates:
        return 0.0
    top = candidates[0]
    other_heading = next((c for c in candidates if c.hs4 != top.hs4), None)
    heading_margin = (top.heading_score - (other_heading.heading_score if other_heading else 0.0)) / max(
        top.heading_score, 1e-9)
    score_margin = (top.score - (candidates[1].score if len(candidates) > 1 else 0.0)) / max(top.score, 1e-9)
    features = (1.0, heading_margin, score_margin, top.vote_share, float(top.title_score > 0), math.log1p(terms))
    z = sum(w * x for w, x in zip(_CONFIDENCE_WEIGHTS, features, strict=True))
    return round(min(MAX_OFFLINE_CONFIDENCE, 1.0 / (1.0 + math.exp(-z))), 2)
