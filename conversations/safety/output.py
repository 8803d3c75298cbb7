"""Safety screening of assistant replies before they are shown or stored.

A reply that suggests a method, encourages harm, gives dangerous medical advice, or
carries sexual content, insults or personal data is blocked. Pure functions.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

from conversations.pii import PLACEHOLDERS, mask_pii
from conversations.safety.normalise import compile_nfkc as _compile
from conversations.safety.normalise import normalise as _normalise

CATEGORY_UNSAFE_ADVICE = "self_harm_content"
CATEGORY_MEDICAL = "medical_advice"
CATEGORY_SEXUAL = "sexual"
CATEGORY_HARASSMENT = "harassment"
CATEGORY_PII = "pii"


@dataclass(frozen=True)
class Screening:
    flagged: bool
    category: str | None
    matched: str | None


_CLEAR = Screening(flagged=False, category=None, matched=None)

# --- assistant output ------------------------------------------------------------------------
#
# screen_output() runs on every streamed prefix, so a rule must not fire on a prefix of a
# harmless sentence: exclusions are expressed as required endings, not as negative
# look-aheads that a later chunk could still satisfy ("죽는 게 낫" + "다고 느끼셨군요").
# The end of the text only counts as an ending when the caller says the reply is final.

_FINAL = r"(?=[\s.!?~,…])"

_METHOD_NEAR = _compile(
    r"(?:자살|자해|목숨을?\s?끊)[^.!?\n]{0,20}?방법",
    r"(?:쉽게|편하게|편안하게|고통\s?없이|확실하게|조용히|빨리)?\s?죽는\s?(?:가장\s?)?(?:쉬운\s?|확실한\s?|편한\s?)?방법",
    r"방법[^.!?\n]{0,12}?(?:자살|자해)",
    r"치사량|lethal\s+dose",
    r"몇\s?(?:알|개|정|통)\S{0,3}\s?(?:먹으면|삼키면|먹어야)\s?(?:죽|사망)",
)
# A method mention in the same sentence as these words is about coping or refusing, not
# instructing: "자해 충동을 다루는 방법", "자살예방상담전화", "치사량은 알려 드릴 수 없어요".
_PROTECTIVE = re.compile(
    r"예방|상담|전화|대처|다루|막는|막을|막아|멈추|멈출|줄이|이겨|견디|극복|참는|대신|도움|안전|피하|"
    r"않고|말고|수\s?없|안\s?돼|안돼|못\s?해|드릴\s?수"
)
_SENTENCE_END = re.compile(r"[.!?\n]")

_OUTPUT_RULES: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        CATEGORY_UNSAFE_ADVICE,
        _compile(
            # Reflective listening ("죽는 게 낫다고 느끼셨군요") must pass, so only a finished
            # assertion counts.
            r"죽는\s?(?:게|것이|편이)\s?(?:나아요|나아|낫습니다|낫죠|낫다|나을\s?거예요|나을\s?수도\s?있어요)" + _FINAL,
            r"죽어도\s?(?:돼요|돼|됩니다|된다|괜찮아요|괜찮습니다|괜찮아)" + _FINAL,
            r"사라지는\s?(?:게|것이|편이)\s?(?:나아요|나아|낫습니다|낫죠|낫다|나을\s?거예요)" + _FINAL,
            r"(?:그냥|차라리|빨리|얼른)\s?죽어(?:라|버려|요)?" + _FINAL,
            r"살\s?(?:가치가|자격이)\s?없(?:어요|습니다|어|다)" + _FINAL,
        ),
    ),
    (
        CATEGORY_MEDICAL,
        _compile(
            # Look-behind: "예약", "절약" are not medicine.
            r"(?<![가-힣])(?:약|약물|복용)(?:을|은|를|도)?\s?(?:당장\s?|바로\s?|그냥\s?|이제\s?)?"
            r"(?:끊으세요|끊으셔도|끊어도\s?(?:돼|됩니다|괜찮)|중단하세요|중단하셔도|"
            r"그만\s?(?:드세요|드셔도|먹어도)|안\s?(?:드셔도|먹어도)\s?(?:돼|됩니다|괜찮))",
            r"(?:병원|정신과|상담소?|치료|진료|전문가|의사|선생님)(?:에|을|를|은|는|도)?\s?"
            r"(?:가실|갈|가 볼|가볼|받을|받으실|받아 볼|찾을|찾아갈|만날|만나실)\s?필요(?:가|는|도)?\s?(?:전혀\s?)?없",
            r"(?:상담|치료|병원|진료|정신과|(?<![가-힣])약)(?:은|는|도)?\s?(?:전혀\s?)?필요\s?(?:없|하지\s?않)",
        ),
    ),
    (
        CATEGORY_SEXUAL,
        _compile(
            # "성기능" (a common antidepressant side effect) is medical, not sexual content.
            r"섹스|야동|포르노|음란물|성기(?!능)|자위\s?행위|알몸|성행위|오르가즘|야한\s?(?:사진|영상|얘기|이야기)",
            r"(?<![a-z])(?:porn|nudes?|blowjob|orgasm)(?![a-z])",
        ),
    ),
    (
        CATEGORY_HARASSMENT,
        _compile(
            # "시발점" (starting point), "미친 듯이" (like crazy), "새끼 고양이" (kitten) are
            # ordinary words, hence the narrow forms.
            r"병신|씨발|씨바|시발(?!점|역|택시)|ㅅㅂ|ㅂㅅ|개새끼|새끼야|미친놈|미친년|미친\s?새끼|지랄|좆|닥쳐",
            # "불이 꺼져 가요" is not an insult; only a bare imperative ending a sentence is.
            r"(?<![가-힣])(?<![이가]\s)꺼져(?:\s?버려|라)?(?=\s?[.!?~])",
            r"(?<![a-z])(?:fuck|bitch|retard)",
        ),
    ),
)
_PLACEHOLDER = re.compile("|".join(re.escape(p) for p in PLACEHOLDERS))


def _unsafe_method(text: str) -> str | None:
    for match in _METHOD_NEAR.finditer(text):
        end = _SENTENCE_END.search(text, match.end())
        if end is None:
            # The refusal may still follow ("치사량은 … 알려 드릴 수 없어요"): judge the
            # sentence once it is finished.
            continue
        start = max(text.rfind(char, 0, match.start()) for char in ".!?\n") + 1
        if not _PROTECTIVE.search(text, start, end.start()):
            return match.group(0).strip()
    return None


def _leaked_pii(text: str) -> str | None:
    masked = mask_pii(text)
    if masked == text:
        return None
    # Report the kind, never the value: Screening.matched is shown to moderators.
    added = Counter(_PLACEHOLDER.findall(masked)) - Counter(_PLACEHOLDER.findall(text))
    return next(iter(added), "[PII]")


def screen_output(text: str, *, final: bool = False) -> Screening:
    """Screen an assistant reply, or a streamed prefix of it, before it is shown or stored.

    Pass ``final=True`` for the complete reply so a last sentence without punctuation is
    judged too; on a prefix that sentence may still continue harmlessly.
    """
    if not text:
        return _CLEAR
    normalised = _normalise(text)
    if final:
        normalised += "."
    method = _unsafe_method(normalised)
    if method is not None:
        return Screening(flagged=True, category=CATEGORY_UNSAFE_ADVICE, matched=method)
    for category, pattern in _OUTPUT_RULES:
        match = pattern.search(normalised)
        if match:
            return Screening(flagged=True, category=category, matched=match.group(0).strip())
    leaked = _leaked_pii(text)
    if leaked is not None:
        return Screening(flagged=True, category=CATEGORY_PII, matched=leaked)
    return _CLEAR


# Longer than any rule's match and any personal datum the screen looks for.
_LOOKBACK = 120
# Characters kept before a sentence start, so every look-behind sees what it would in the whole text.
_LOOKBEHIND = 2


def screen_output_tail(*, shown: str, added: str) -> Screening:
    """``screen_output(shown + added)`` for a stream whose prefix ``shown`` already passed.

    Only the text from a sentence start at least ``_LOOKBACK`` characters back is screened
    again: a match that reaches the new text starts after it, and the sentence of any
    method rule is whole in it. A streamed reply so costs linear time, not quadratic.
    """
    cut = len(shown) - _LOOKBACK
    start = max(shown.rfind(char, 0, cut) for char in ".!?\n") + 1 if cut > 0 else 0
    return screen_output(shown[max(0, start - _LOOKBEHIND):] + added)
