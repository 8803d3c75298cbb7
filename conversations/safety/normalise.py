"""Text normalisation shared by the input and output screens."""

from __future__ import annotations

import re
import unicodedata

_INVISIBLE = re.compile("[\u00ad\u180e\u200b-\u200f\u2060-\u2064\ufeff]")
# Punctuation used to split a word ("자.살", "죽-고-싶-다"). Comma is excluded on purpose:
# "여자, 살 빼는 법" must not turn into "여자살".
_HANGUL_SPLITTER = re.compile(r"(?<=[가-힣])[.\-_*·~/|^+='\"`]+(?=[가-힣])")
_WHITESPACE = re.compile(r"\s+")
_SYLLABLE = re.compile(r"[가-힣]")


def nfkc(text: str) -> str:
    return unicodedata.normalize("NFKC", text)


def normalise(text: str) -> str:
    text = _INVISIBLE.sub("", nfkc(text)).lower()
    return _WHITESPACE.sub(" ", text).strip()


def normalise_input(text: str) -> str:
    """Like ``normalise`` but undoes deliberate letter spacing ("죽 고 싶 다").

    Only a space between two single-syllable tokens is removed. Removing every space would
    invent words across words: "여자 살 빼기" -> "여자살빼기" contains 자살.
    """
    tokens = _HANGUL_SPLITTER.sub("", normalise(text)).split(" ")
    parts = [tokens[0]]
    for previous, token in zip(tokens, tokens[1:], strict=False):
        single = len(previous) == 1 and len(token) == 1
        joined = single and _SYLLABLE.fullmatch(previous) and _SYLLABLE.fullmatch(token)
        parts.append(token if joined else " " + token)
    return "".join(parts)


def compile_nfkc(*alternatives: str) -> re.Pattern[str]:
    # Patterns go through the same NFKC as the text: NFKC turns "ㅅㅂ" (compatibility jamo)
    # into conjoining jamo, so a literal pattern would never match.
    return re.compile(nfkc("|".join(f"(?:{a})" for a in alternatives)))
