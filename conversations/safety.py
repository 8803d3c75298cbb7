"""Keyword screening: crisis signals in user messages, unsafe content in assistant replies.

A first line of defence only; a flagged message goes to a human counselor. Lists favour
recall for the user's own crisis statements and precision for idioms ("배고파 죽겠어").
Pure functions, importable without Django settings.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from dataclasses import dataclass

from conversations.pii import PLACEHOLDERS, mask_pii

__all__ = [
    "ABUSE_REPLY",
    "CATEGORY_ABUSE",
    "CATEGORY_HARASSMENT",
    "CATEGORY_MEDICAL",
    "CATEGORY_PII",
    "CATEGORY_SELF_HARM",
    "CATEGORY_SEXUAL",
    "CATEGORY_SUICIDE",
    "CATEGORY_UNSAFE_ADVICE",
    "CATEGORY_VIOLENCE",
    "CRISIS_REPLY",
    "SAFE_FALLBACK_REPLY",
    "VIOLENCE_REPLY",
    "Screening",
    "crisis_reply",
    "screen_input",
    "screen_output",
]

CATEGORY_SUICIDE = "suicide"
CATEGORY_SELF_HARM = "self_harm"
CATEGORY_VIOLENCE = "violence_to_others"
CATEGORY_ABUSE = "abuse"
# Output-only categories.
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

# Written for TTS: plain sentences, no markdown, digits kept as digits.
CRISIS_REPLY = (
    "지금 정말 많이 힘드시다는 게 느껴져요. "
    "이야기해 주셔서 고마워요, 당신은 혼자가 아니에요. "
    "저는 AI라서 위급한 상황을 혼자 도와드릴 수는 없어요. "
    "24시간 열려 있는 자살예방상담전화 109나 정신건강위기상담전화 1577-0199로 지금 연락해 주세요. "
    "당장 위험한 상황이라면 경찰 112 또는 구급 119에 바로 전화해 주세요. "
    "상담 선생님도 이 대화를 살펴볼 거예요, 괜찮으시다면 저와 계속 이야기 나눠요."
)

VIOLENCE_REPLY = (
    "지금 화가 정말 많이 나 있는 게 느껴져요. "
    "그런 마음이 들 만큼 힘든 일이 있었나 봐요. "
    "누군가 다치거나 위험한 상황이라면 지금 바로 경찰 112에 연락해 주세요. "
    "저는 AI라서 위급한 상황을 직접 도와드릴 수는 없지만, 상담 선생님도 이 대화를 살펴볼 거예요. "
    "괜찮으시다면 무슨 일이 있었는지 저와 천천히 이야기 나눠요."
)

ABUSE_REPLY = (
    "털어놓기 어려운 이야기를 해 주셔서 고마워요, 그건 결코 당신 잘못이 아니에요. "
    "지금 위험하다면 바로 경찰 112에 전화해 주세요, 아동학대 신고도 112로 할 수 있어요. "
    "여성긴급전화 1366은 24시간 상담과 보호를 도와줘요. "
    "저는 AI라서 직접 도와드릴 수는 없지만, 상담 선생님도 이 대화를 살펴볼 거예요. "
    "괜찮으시다면 저와 계속 이야기 나눠요."
)

SAFE_FALLBACK_REPLY = (
    "죄송해요, 방금 답변은 보여 드릴 수 없었어요. 지금 어떤 마음이 드시는지 조금 더 이야기해 주시겠어요?"
)

_REPLIES_BY_CATEGORY = {CATEGORY_VIOLENCE: VIOLENCE_REPLY, CATEGORY_ABUSE: ABUSE_REPLY}


def crisis_reply(category: str) -> str:
    """Fixed reply for a flagged user message; suicide/self-harm text for anything unknown."""
    return _REPLIES_BY_CATEGORY.get(category, CRISIS_REPLY)


# --- normalisation -------------------------------------------------------------------------

_INVISIBLE = re.compile("[\u00ad\u180e\u200b-\u200f\u2060-\u2064\ufeff]")
# Punctuation used to split a word ("자.살", "죽-고-싶-다"). Comma is excluded on purpose:
# "여자, 살 빼는 법" must not turn into "여자살".
_HANGUL_SPLITTER = re.compile(r"(?<=[가-힣])[.\-_*·~/|^+='\"`]+(?=[가-힣])")
_WHITESPACE = re.compile(r"\s+")
_SYLLABLE = re.compile(r"[가-힣]")


def _normalise(text: str) -> str:
    text = unicodedata.normalize("NFKC", text)
    text = _INVISIBLE.sub("", text).lower()
    return _WHITESPACE.sub(" ", text).strip()


def _normalise_input(text: str) -> str:
    """Like ``_normalise`` but undoes deliberate letter spacing ("죽 고 싶 다").

    Only a space between two single-syllable tokens is removed. Removing every space would
    invent keywords across words: "여자 살 빼기" -> "여자살빼기" contains 자살.
    """
    tokens = _HANGUL_SPLITTER.sub("", _normalise(text)).split(" ")
    parts = [tokens[0]]
    for previous, token in zip(tokens, tokens[1:], strict=False):
        single = len(previous) == 1 and len(token) == 1
        joined = single and _SYLLABLE.fullmatch(previous) and _SYLLABLE.fullmatch(token)
        parts.append(token if joined else " " + token)
    return "".join(parts)


def _k(*phrases: str) -> str:
    """Regex alternation of Korean phrases where a space inside a phrase is optional."""
    return "|".join(p.replace(" ", r"\s?") for p in phrases)


def _loose(*stems: str) -> str:
    """Like ``_k`` but a space may appear between any two letters.

    Only for stems of 3+ syllables that cannot arise across an ordinary word boundary.
    """
    return "|".join(r"\s?".join(re.escape(ch) for ch in stem.replace(" ", "")) for stem in stems)


def _compile(*alternatives: str) -> re.Pattern[str]:
    # Patterns go through the same NFKC as the text: NFKC turns "ㅅㅂ" (compatibility jamo)
    # into conjoining jamo, so a literal pattern would never match.
    return re.compile(unicodedata.normalize("NFKC", "|".join(f"(?:{a})" for a in alternatives)))


# --- user input ------------------------------------------------------------------------------

# Removed before matching, so an idiom cannot trigger a rule but a real signal elsewhere in
# the same message still does ("자살골 먹고 진짜 죽고 싶다" is flagged).
_INPUT_EXCLUSIONS = _compile(
    _k("자살골", "자살 골", "유서 깊", "유서깊"),
    # Exaggeration idioms: "배고파 죽겠어", "웃겨 죽겠다".
    r"(?:배고파|배고프|웃겨|웃기|졸려|피곤해|더워|추워|귀여워|좋아|심심해|짜증나|궁금해|부러워)\s?죽겠",
    r"죽을\s?것\s?같이\s?(?:피곤|배고|졸려|졸리|더워|추워|아파|바빠|힘들)",
    _k("죽고 싶지 않", "죽고 싶지는 않", "죽고 싶진 않"),
    _k("시간을 죽이", "시간 죽이"),
    _k("suicide squad"),
)

_FAMILY = (
    r"(?:부모님?|엄마|아빠|아버지|어머니|새아빠|새엄마|계부|계모|남편|아내|와이프|애인|남친|"
    r"남자\s?친구|여친|여자\s?친구|오빠|형|누나|언니|삼촌|할아버지|할머니|시어머니|시아버지|선생님?)"
)

# Checked in order; the first hit decides the reply. Suicide first: it carries the widest
# set of help lines, and someone both abused and suicidal needs 109 most.
_INPUT_RULES: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        CATEGORY_SUICIDE,
        _compile(
            _loose("죽고싶", "죽고만싶", "죽어버리고싶", "죽어버릴까", "죽어야겠", "사라져버리고싶"),
            "자살",
            _k("목숨을 끊", "목숨 끊", "극단적 선택", "극단적인 선택", "스스로 생을 마감"),
            _k("살기 싫", "그만 살고 싶", "살고 싶지 않", "살고 싶지도 않", "살고 싶지가 않"),
            _k("사라지고 싶", "없어지고 싶"),
            _k("더 이상 살 이유", "살 이유가 없", "살아야 할 이유가 없", "살아갈 이유가 없", "살 의미가 없"),
            _k("죽는 게 나아", "죽는 게 나을", "죽는 게 낫", "죽는 편이 나아", "죽는 편이 나을", "죽는 편이 낫"),
            r"유서",
            r"번개탄",
            _k("수면제를 모아", "수면제를 모으", "수면제 모아", "수면제 모으", "수면제를 모았"),
            _k("약을 모으고", "약을 모아"),
            r"수면제\S{0,2}\s?(?:한꺼번에|왕창|잔뜩|다\s?먹|많이\s?먹)",
            # "버스에서 뛰어내렸다" is not a crisis; a height or intent is.
            r"(?:옥상|한강|다리|창문|베란다|아파트|건물|높은\s?곳)\S{0,6}\s?뛰어\s?내",
            _k("뛰어내리고 싶", "뛰어내리려", "뛰어내릴까", "뛰어내릴래", "뛰어내릴 거", "뛰어내릴 것"),
            # "끝내고 싶" alone is mostly about work; only life/self objects count.
            r"(?:삶|인생|목숨|생을|모든\s?걸|모든\s?것|세상|나\s?자신|내\s?자신|스스로)"
            r"\S{0,2}\s?(?:다\s?)?끝내고\s?싶",
            r"(?<![a-z])(?:suicid(?:e|al)|kill(?:ing)?\s+my\s?self|end(?:ing)?\s+my\s+(?:own\s+)?life|"
            r"end\s+it\s+all|want\s+to\s+die|wanna\s+die)(?![a-z])",
        ),
    ),
    (
        CATEGORY_SELF_HARM,
        _compile(
            r"자해",
            r"손목\S{0,2}\s?(?:긋|그었|그어|그을|그으)",
            _k("몸에 상처를 내", "칼로 긋", "칼로 그었"),
            r"(?<![a-z])(?:self[\s-]?harm|cut(?:ting)?\s+my\s?self|hurt(?:ing)?\s+my\s?self)(?![a-z])",
        ),
    ),
    (
        CATEGORY_ABUSE,
        _compile(
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
        _compile(
            _loose("죽이고싶", "죽여버리", "죽여버릴", "죽여버려", "죽여야겠", "찔러버리", "찔러죽"),
            _k("죽일 거", "죽일 것", "죽일 꺼", "패 죽이", "때려 죽이"),
            r"(?<![a-z])(?:(?:want|going)\s+to\s+kill|kill\s+(?:him|her|them|you|everyone|somebody|someone))"
            r"(?![a-z])",
        ),
    ),
)


def screen_input(text: str) -> Screening:
    """Screen a user message for suicide, self-harm, abuse or harm-to-others signals."""
    if not text:
        return _CLEAR
    normalised = _INPUT_EXCLUSIONS.sub(" ", _normalise_input(text))
    for category, pattern in _INPUT_RULES:
        match = pattern.search(normalised)
        if match:
            return Screening(flagged=True, category=category, matched=match.group(0).strip())
    return _CLEAR


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
