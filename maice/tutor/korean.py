"""Small Korean text helpers: particles that follow the last syllable, trimming request endings."""

from __future__ import annotations

import re

_PAIRS = {"을": ("을", "를"), "이": ("이", "가"), "은": ("은", "는"), "과": ("과", "와"), "으로": ("으로", "로")}
_REQUEST_ENDING = re.compile(
    r"\s*(에\s*대해서?|에\s*대하여)?\s*(좀\s*)?(자세히\s*)?(알려\s*주세요|알려\s*줘요?|알려\s*주실래요|설명해\s*주세요|설명해\s*줘요?|"
    r"설명\s*부탁(해요|합니다|드려요)?|가르쳐\s*주세요|가르쳐\s*줘요?|궁금해요|궁금합니다|궁금해|알고\s*싶어요|알고\s*싶어|"
    r"해\s*주세요|해\s*줘요?|이에요|예요|이요|입니다|이야|요)?\s*[?.!~]*\s*$"
)


def particle(word: str, kind: str) -> str:
    """``word`` followed by the right form of 을/를, 이/가, 은/는, 과/와, (으)로."""
    with_final, without_final = _PAIRS[kind]
    last = word.strip()[-1:] if word.strip() else ""
    if "가" <= last <= "힣":
        final = (ord(last) - 0xAC00) % 28
        if kind == "으로" and final == 8:  # ㄹ takes 로
            return word + "로"
        return word + (with_final if final else without_final)
    return f"{word}{with_final}({without_final})" if kind != "으로" else f"{word}(으)로"


def core(text: str) -> str:
    """The question without its polite request ending ("…알려주세요", "…궁금해요")."""
    stripped = _REQUEST_ENDING.sub("", text.strip())
    return stripped.strip() or text.strip()


def clip(text: str, limit: int) -> str:
    text = re.sub(r"\s+", " ", text).strip()
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"
