"""Harm to others and abuse of the user: keyword rules with their own fixed replies."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from conversations.safety.levels import Level
from conversations.safety.normalise import compile_nfkc, normalise_input

if TYPE_CHECKING:
    from conversations.safety.screen import Assessment

CATEGORY_VIOLENCE = "violence_to_others"
CATEGORY_ABUSE = "abuse"


def _k(*phrases: str) -> str:
    """Regex alternation of Korean phrases where a space inside a phrase is optional."""
    return "|".join(p.replace(" ", r"\s?") for p in phrases)


def _loose(*stems: str) -> str:
    """Like ``_k`` but a space may appear between any two letters (3+ syllable stems only)."""
    return "|".join(r"\s?".join(re.escape(ch) for ch in stem.replace(" ", "")) for stem in stems)


_FAMILY = (
    r"(?:부모님?|엄마|아빠|아버지|어머니|새아빠|새엄마|계부|계모|남편|아내|와이프|애인|남친|"
    r"남자\s?친구|여친|여자\s?친구|오빠|형|누나|언니|삼촌|할아버지|할머니|시어머니|시아버지|선생님?)"
)

_RULES: tuple[tuple[str, Level, re.Pattern[str]], ...] = (
    (
        CATEGORY_ABUSE,
        Level.ABUSE,
        compile_nfkc(
            _FAMILY + r"\s?(?:한테|에게서|에게|께)\s?[^.!?\n]{0,10}?"
            r"(?:맞고|맞았|맞아요|맞는다|맞아서|두들겨\s?맞|얻어\s?맞|매\s?맞)",
            _FAMILY + r"[^.!?\n]{0,15}?(?:때려|때리|때렸|때린|폭력|폭행|학대)",
            r"(?:매일|자주|계속|맨날|날마다)\s?(?:두들겨\s?)?맞고\s?(?:있|살)",
            r"성폭행|성추행|성폭력|강간|성희롱|가정\s?폭력|데이트\s?폭력",
            _k("학대를 당하", "학대 당하", "학대를 받", "학대받"),
            r"(?<![a-z])(?:raped|molested|sexually\s+assaulted|abused\s+me|(?:hits|beats)\s+me)(?![a-z])",
        ),
    ),
    (
        CATEGORY_VIOLENCE,
        Level.VIOLENCE,
        compile_nfkc(
            _loose("죽이고싶", "죽여버리", "죽여버릴", "죽여버려", "죽여야겠", "찔러버리", "찔러죽"),
            _k("죽일 거", "죽일 것", "죽일 꺼", "패 죽이", "때려 죽이"),
            r"(?<![a-z])(?:(?:want|going)\s+to\s+kill|kill\s+(?:him|her|them|you|everyone|somebody|someone))"
            r"(?![a-z])",
        ),
    ),
)


def screen_harm(text: str) -> Assessment | None:
    from conversations.safety.screen import Assessment

    normalised = normalise_input(text)
    for category, level, pattern in _RULES:
        match = pattern.search(normalised)
        if match:
            return Assessment(level=level, evidence=(f"{level.value}.keyword",), matched=match.group(0).strip(),
                              category=category)
    return None
