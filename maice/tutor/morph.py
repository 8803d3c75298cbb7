"""Korean morphemes for the tutor's rules, from Kiwi (loaded once, on first use).

Curriculum terms are added as user words, so Kiwi keeps "극한값" or "꼭짓점" whole and
the predicates around them (구하, 풀, 그리, 틀리…) come out as clean lemmas.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

_lock = threading.Lock()
_kiwi: Any = None

# Tags whose forms the rules read: nouns, verbs/adjectives (lemmas), adverbs, pronouns,
# Latin letters and numbers (formulas), interjection-like symbols.
_CONTENT = ("NNG", "NNP", "NNB", "NP", "VV", "VA", "VX", "MAG", "MM", "XR", "SL", "SN", "SH")


@dataclass(frozen=True)
class Morphs:
    lemmas: frozenset[str]
    nouns: frozenset[str]


def _load() -> Any:
    global _kiwi
    if _kiwi is None:
        with _lock:
            if _kiwi is None:
                from kiwipiepy import Kiwi

                from maice.tutor.vocab import USER_WORDS

                kiwi = Kiwi()
                for word in USER_WORDS:
                    kiwi.add_user_word(word, "NNG")
                # Kiwi reads its model lazily; one call here keeps that cost off a user's first question.
                kiwi.tokenize("이차함수의 꼭짓점을 구해 주세요")
                _kiwi = kiwi
    return _kiwi


def load() -> None:
    """Load the model now rather than on the first question."""
    _load()


def analyze(text: str) -> Morphs:
    kiwi = _load()
    lemmas: set[str] = set()
    nouns: set[str] = set()
    # Callers run on several threads; one tokenization is a tenth of a millisecond.
    with _lock:
        tokens = kiwi.tokenize(text)
    for token in tokens:
        tag = token.tag.split("-")[0]
        if tag in ("NNG", "NNP"):
            nouns.add(token.form)
        if tag in _CONTENT:
            lemmas.add(token.form)
    return Morphs(lemmas=frozenset(lemmas), nouns=frozenset(nouns))
