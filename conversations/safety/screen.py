"""Screening a user message: its risk level, with the evidence a reviewer needs.

``assess(text, previous=…)`` returns an ``Assessment``. The rules in ``rules.py`` find
predicates in each sentence; what is said about them then decides the level:
negated ("죽고 싶지 않아요") counts for nothing, said of someone else ("친구가 죽고
싶대요") is third-party concern, told as news or a loss is a mention, told of the past
with nothing recent ("예전에 그런 적이 있어요") is history. The last few user turns
raise the level when risk builds across messages ("약을 모아 뒀어요" then "다 포기하고
싶어요" is a plan).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from conversations.safety import harm
from conversations.safety.kiwi import kiwi
from conversations.safety.levels import Level, Urgency
from conversations.safety.normalise import normalise_input
from conversations.safety.patterns import compile_seq
from conversations.safety.rules import (
    ACCIDENT,
    BENIGN_PURPOSE,
    COPING,
    ENGLISH_HISTORY,
    ENGLISH_OTHER,
    ENGLISH_RULES,
    FIRST_PERSON,
    HELPING,
    HISTORY_CUES,
    IDIOMS,
    JAMO,
    MENTION_CUES,
    NEGATION_AFTER,
    OTHER_AS_SUBJECT,
    OTHER_PERSON,
    OTHER_POSSESSIVE,
    RECENT_CUES,
    REPORTED,
    RULES,
    SELF_WISH,
    SLANG,
    TOPIC_NOUN,
    Rule,
)

CONTEXT_TURNS = 3  # earlier user turns that count
_ACCIDENT_PRONE = frozenset({"self_harm.wound", "self_harm.cut"})
_KEYWORDS = (("자살", "active.suicide"), ("자해", "active.self_harm_urge"))
_WISH_WINDOW = 6  # morphemes after a match where a wish or intention still belongs to it


@dataclass(frozen=True)
class Assessment:
    level: Level
    evidence: tuple[str, ...] = ()  # rule ids, e.g. "preparation.pills", "context.plan"
    matched: str = ""  # the words that decided it, for reviewers
    signals: frozenset[str] = field(default_factory=frozenset)  # weak cues for the next turns
    source: str = "rules"
    category: str | None = None  # the reply family: suicide, violence_to_others, abuse
    # Moderation categories beside any risk (harassment, hate, sexual, ...): the message is
    # flagged as filtered input for review; the reply is unchanged.
    filtered: tuple[str, ...] = ()

    @property
    def urgency(self) -> Urgency:
        return self.level.urgency

    @property
    def flagged(self) -> bool:
        return self.urgency != Urgency.NONE


CLEAR = Assessment(level=Level.NONE)


@dataclass
class _Sentence:
    morphs: str  # " form/TAG form/TAG … "
    spans: list[tuple[int, int]]  # each morpheme's characters in the analysed text
    forms: frozenset[str]


@dataclass
class _Analysis:
    text: str  # the analysed text
    sentences: list[_Sentence]


def _prepare(text: str) -> tuple[str, bool]:
    normalised = normalise_input(text)
    idiom = bool(IDIOMS.search(normalised))
    normalised = IDIOMS.sub(" ", normalised)
    for pattern, replacement in SLANG:
        normalised = pattern.sub(replacement, normalised)
    return JAMO.sub(" ", normalised), idiom


def _analyse(text: str) -> _Analysis:
    sentences: list[_Sentence] = []
    tokens: list[Any] = []
    for token in kiwi().tokenize(text):
        tokens.append(token)
        if token.tag == "SF":
            sentences.append(_sentence(tokens))
            tokens = []
    if tokens:
        sentences.append(_sentence(tokens))
    return _Analysis(text=text, sentences=sentences)


def _sentence(tokens: list[Any]) -> _Sentence:
    return _Sentence(morphs=" " + " ".join(f"{t.form}/{t.tag}" for t in tokens) + " ",
                     spans=[(t.start, t.start + t.len) for t in tokens], forms=frozenset(t.form for t in tokens))


def _surface(analysis: _Analysis, morphs: str, spans: list[tuple[int, int]], start: int, end: int) -> str:
    first = morphs.count(" ", 0, start) - 1
    last = morphs.count(" ", 0, end) - 2
    if not spans or last < first:
        return ""
    return analysis.text[spans[max(first, 0)][0]:spans[min(last, len(spans) - 1)][1]]


@dataclass
class _Finding:
    rule: str
    level: Level
    act: bool
    matched: str
    wish: bool = False  # the speaker wants or means to: "자살하고 싶어요", "죽으려고요"


def _negated(morphs: str, end: int) -> bool:
    return bool(NEGATION_AFTER.match(morphs, end - 1))


def _findings(analysis: _Analysis) -> list[_Finding]:
    found: list[_Finding] = []
    for sentence in analysis.sentences:
        morphs, spans = sentence.morphs, sentence.spans
        for item in _candidates(sentence.forms):
            if not item.may_match(sentence.forms):
                continue
            match = _first_live_match(item, morphs)
            if match is None:
                continue
            if any(pattern.search(morphs) is None for pattern in item.all_of[1:]):
                continue
            found.append(_Finding(item.id, item.level, item.act, _surface(analysis, morphs, spans, *match.span()),
                                  wish=_wished(morphs, match)))
    return found


def _wished(morphs: str, match: re.Match[str]) -> bool:
    if TOPIC_NOUN.match(morphs, match.end() - 1):
        return False  # "자살 예방 교육을 받고 싶어요": the wish is for the topic
    end = match.end()
    for _ in range(_WISH_WINDOW):
        following = morphs.find(" ", end)
        if following < 0:
            break
        end = following + 1
    return bool(SELF_WISH.search(morphs, match.start(), end))


# Rules by the forms their first pattern can start with: a sentence is tried only against
# the rules one of its forms can start (most ordinary sentences: none).
_BY_FORM: dict[str, set[int]] = {}
_ALWAYS: set[int] = set()
for _index, _rule in enumerate(RULES):
    _first = _rule.anchors[0] if _rule.anchors else None
    if _first is None:
        _ALWAYS.add(_index)
    else:
        for _form in _first:
            _BY_FORM.setdefault(_form, set()).add(_index)


def _candidates(forms: frozenset[str]) -> list[Rule]:
    indexes = set(_ALWAYS)
    for form in forms:
        indexes.update(_BY_FORM.get(form, ()))
    return [RULES[index] for index in sorted(indexes)]


def _first_live_match(item: Rule, morphs: str) -> re.Match[str] | None:
    """The rule's first match that is not negated, preferring one the speaker wishes."""
    live = [m for m in item.all_of[0].finditer(morphs) if not item.negatable or not _negated(morphs, m.end())]
    return next((m for m in live if _wished(morphs, m)), live[0] if live else None)


def _cues(pattern: re.Pattern[str], analysis: _Analysis) -> bool:
    return any(pattern.search(sentence.morphs) for sentence in analysis.sentences)


_TIME = "오늘|내일|모레|주말|새벽|밤|토요일|일요일|월요일|화요일|수요일|목요일|금요일|이따|날"
# Weak cues: nothing alone, a level in the context of earlier risk.
_SIGNALS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("giving_up", compile_seq("포기하|포기/* ~2 싶|하/V", "끝내|끝나|떠나/V %3 려고|려고요|으려고|으려고요|ᆯ|을|고/E",
                              "그만하/V", "다/MAG 끝내/V")),
    ("timing", compile_seq(f"{_TIME}/N|MAG")),
    # An answer to "when": "오늘 밤이요", "내일이요 아무도 없을 때".
    ("when", compile_seq(f"{_TIME}|때/N|MAG 이/VCP", f"{_TIME}|때/N|MAG 요|이요/JX|EF", "아무/* ~2 없/VA ~1 때|날/N")),
    ("doing_it", compile_seq("하/VV ᆯ|을/ETM 거/NNB", "하/VV 려고/E", "먹/VV 으려고|려고/E", "하/VV 기로/E")),
    ("method_question", compile_seq("몇/MM 알|층|개/N", "어떻게/MAG ~2 하/V %1 면/E", "뛰어내리|먹/V %1 면|으면/EC",
                                    "방법|법/N")),
    ("continuing", compile_seq("그|그런|이런/MM 생각/N", "네|응|맞/* ~1 맞/V", "계속/MAG ~3 생각/N",
                               "그렇/VA 어요|어|다|죠|지|습니다/EF")),
    ("hopeless", compile_seq("필요/N ~2 하/* %2 않|없/V", "의미|소용/N ~2 없/V", "아무도|아무것도/* ~4 없|않|모르/V")),
    ("letter", compile_seq("편지|쪽지/N ~3 쓰/V")),
    ("settling", compile_seq("정리/N", "떠나/V", "맡기/V")),
    ("planning", compile_seq("계획/N", "날짜|날|시간|장소/N ~3 정하/V", "언제/* ~2 어디/*", "정하/VV %2 놓|두/VX")),
    ("means", compile_seq("수면제|약|번개탄|밧줄|끈/N ~5 모으|사|준비/*")),
)


def _signals(analysis: _Analysis) -> frozenset[str]:
    return frozenset(name for name, pattern in _SIGNALS if _cues(pattern, analysis))


def _english(text: str) -> tuple[Level, str, str] | None:
    lowered = text.lower()
    for rule_id, level, pattern in ENGLISH_RULES:
        match = pattern.search(lowered)
        if match:
            return level, rule_id, match.group(0)
    return None


def _judge(findings: list[_Finding], analysis: _Analysis, english_history: bool, english_other: bool
           ) -> tuple[Level, list[_Finding]]:
    """The level of one message's findings, given what the whole message says about them."""
    if not findings:
        return Level.NONE, []
    top = max(findings, key=lambda f: f.level.rank)
    reported = _cues(REPORTED, analysis)
    first_person = _cues(FIRST_PERSON, analysis)
    other = (_cues(OTHER_AS_SUBJECT, analysis) or english_other
             or (_cues(OTHER_POSSESSIVE, analysis) and not first_person))
    # A wish is the speaker's own unless someone else's is reported: "엄마가 보고 싶어서
    # 죽고 싶어요" is the speaker's, "친구가 죽고 싶대요" the friend's.
    own_wish = top.wish and not (reported and other)
    helping = _cues(HELPING, analysis) and _cues(OTHER_PERSON, analysis)
    if not own_wish and _cues(MENTION_CUES, analysis) and not (first_person and not other):
        return Level.MENTION, [top]
    if not own_wish and ((other and (reported or top.act)) or (helping and top.act)
                         or (english_other and not first_person)):
        return Level.THIRD_PARTY, [top]
    retry = _ACCIDENT_PRONE if top.rule in _ACCIDENT_PRONE and _cues(ACCIDENT, analysis) else None
    if top.rule.startswith("preparation.") and _cues(BENIGN_PURPOSE, analysis):
        retry = frozenset(f.rule for f in findings if f.rule.startswith("preparation."))
    if retry:
        # An accident or a farewell before a move: judge what is left.
        return _judge([f for f in findings if f.rule not in retry], analysis, english_history, english_other)
    if (_cues(HISTORY_CUES, analysis) or english_history) and not _cues(RECENT_CUES, analysis):
        return Level.HISTORY, [top]
    if top.level.urgency == Urgency.URGENT and top.rule.startswith("method.") and _cues(COPING, analysis):
        return Level.ACTIVE, [top]  # "자해 충동을 참는 방법": asks for coping, has the urge
    return top.level, [f for f in findings if f.level == top.level]


def _assess_one(text: str) -> tuple[Assessment, bool]:
    """One message alone, and whether it held an idiom."""
    prepared, idiom = _prepare(text)
    analysis = _analyse(prepared)
    findings = _findings(analysis)
    if not findings:
        # Kiwi now and then splits a keyword it should not ("자해 같아요" -> 자/IC 해/NNG):
        # the bare words still count.
        for word, rule_id in _KEYWORDS:
            if word in prepared and not any(word in sentence.forms for sentence in analysis.sentences):
                findings.append(_Finding(rule_id, Level.ACTIVE, True, word))
                break
    english = _english(prepared)
    if english is not None:
        level, rule_id, matched = english
        findings.append(_Finding(rule_id, level, level == Level.SELF_HARM, matched))
    level, decisive = _judge(findings, analysis, bool(ENGLISH_HISTORY.search(prepared.lower())),
                             bool(ENGLISH_OTHER.search(prepared.lower())))
    if level == Level.NONE and _cues(_HISTORY_THAT, analysis):
        level, decisive = Level.HISTORY, [_Finding("history.that_thought", Level.HISTORY, False, "")]
    signals = _signals(analysis)
    if level.at_risk:
        signals |= {"at_risk", level.value}
    assessment = Assessment(
        level=level,
        evidence=tuple(dict.fromkeys(f.rule for f in decisive)),
        matched=" / ".join(dict.fromkeys(f.matched for f in decisive if f.matched))[:200],
        signals=signals,
        category="suicide" if level.at_risk or level == Level.HISTORY else None,
    )
    return assessment, idiom


# "예전에 그런 생각을 한 적 있어요": said in answer to a counselor's question about
# suicidal thoughts; worth a reviewer's look, nothing more.
_HISTORY_THAT = compile_seq("그런|그|이런/MM 생각|적|시기/N ~4 적/NNB %2 있/V")


def _with_context(current: Assessment, previous: Sequence[Assessment]) -> Assessment:
    """Raise ``current`` by what the earlier turns said (risk builds across messages)."""
    if not previous:
        return current
    worst = max(previous, key=lambda a: a.level.rank)
    before = frozenset().union(*(a.signals for a in previous))
    now = current.signals
    at_risk = worst.level.at_risk
    raised: Level | None = None
    if ("means" in before or worst.level in (Level.PREPARATION, Level.SELF_HARM)) and now & _ACTING:
        raised = Level.PLAN  # means at hand, then giving up or a time: "약을 모아 뒀어요" + "다 포기하고 싶어요"
    elif ("giving_up" in before or at_risk) and now & {"letter", "settling"}:
        raised = Level.PREPARATION  # "이제 떠나려고요" + "편지도 다 써 놨어요"
    elif at_risk and (now & {"when", "planning"} or {"timing", "doing_it"} <= now):
        raised = Level.PLAN  # "죽고 싶어요" + "내일이요 아무도 없을 때"
    elif at_risk and "method_question" in now:
        raised = Level.METHOD  # "죽고 싶어요" + "몇 알 먹으면 되는지"
    elif at_risk and "doing_it" in now and worst.level.rank >= Level.ACTIVE.rank:
        raised = Level.INTENT  # "자살 생각이 계속 나요" + "이번엔 진짜 할 거예요"
    elif at_risk and now & {"continuing", "hopeless", "giving_up"}:
        raised = min(worst.level, Level.ACTIVE, key=lambda level: level.rank)  # the thought goes on
    if raised is None or raised.rank <= current.level.rank:
        return current
    return Assessment(
        level=raised,
        evidence=(*current.evidence, f"context.{raised.value}", *worst.evidence),
        matched=current.matched,
        signals=current.signals | {"at_risk", raised.value},
        category="suicide",
    )


_ACTING = frozenset({"giving_up", "when", "doing_it", "planning", "at_risk"})


def assess(text: str, *, previous: Sequence[str] = ()) -> Assessment:
    """The risk level of ``text``; ``previous`` are the user's earlier turns, oldest first."""
    if not text or not text.strip():
        return CLEAR
    current, idiom = _assess_one(text)
    if previous:
        current = _with_context(current, [_assess_one(turn)[0] for turn in previous[-CONTEXT_TURNS:]])
    if current.level.rank < Level.PASSIVE.rank:
        # Violence and abuse keep their own replies; a suicide signal outranks them.
        other = harm.screen_harm(_prepare(text)[0])
        if other is not None:
            return other
    if current.level == Level.NONE and idiom:
        return Assessment(level=Level.IDIOM, evidence=("idiom",), signals=current.signals)
    return current


async def assess_async(text: str, *, previous: Sequence[str] = ()) -> Assessment:
    """``assess`` on a worker thread, for the event loop: Kiwi spends up to about 75 µs a
    character (unspaced Hangul: 0.3 s at the 4000-character limit) and lets go of the GIL
    meanwhile, so every other stream of the process keeps flowing."""
    return await asyncio.to_thread(assess, text, previous=previous)


def needs_context(assessment: Assessment) -> bool:
    """Whether earlier turns could change this message's level (else skip reading them)."""
    # A time word alone ("오늘") raises nothing; it only counts with "하려고" or as an answer.
    return bool(assessment.signals - {"timing"}) or assessment.level.rank >= Level.HISTORY.rank
