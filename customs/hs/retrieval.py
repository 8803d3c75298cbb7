"""BM25 retrieval of HS candidates over the nomenclature titles and the product examples.

Pure Python over plain data (no Django): ``customs.hs.selectors`` feeds it from the
database, ``bench/hs_quality.py`` from the files. Text in Korean and English goes through
one analyser (``customs.hs.text``).

Separate BM25 indexes are kept because their documents differ in kind: nomenclature
titles (legal wording, one per heading and subheading), product examples (trade names
as published, often mixed Korean/English) and one profile per heading.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

import bm25s
import numpy as np

from customs.hs.text import SYNONYM_WEIGHT, analyzer


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
    heading (its title and all its examples' names, the heading's trade vocabulary),
    scaled by the share of the query's words that vocabulary covers. Subheadings are
    then ranked inside their heading by title and votes.
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
                      heading_score=float(head[self._sub_head[i]]),
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
