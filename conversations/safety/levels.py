"""Risk levels of a user message, modelled on the C-SSRS screener, and what each one asks for.

Ranks order the moderation queue and let the LLM's second opinion raise, never lower,
the rules' level. Violence and abuse are not suicide severities but keep their own
fixed replies, so they sit here too.
"""

from __future__ import annotations

from enum import StrEnum


class Urgency(StrEnum):
    NONE = "none"  # nothing to do
    REVIEW = "review"  # a counselor reads the session; the conversation goes on
    URGENT = "urgent"  # fixed crisis reply at once, on-call staff alerted


class Level(StrEnum):
    NONE = "none"
    IDIOM = "idiom"  # "배고파 죽겠어", "자살골": recognised and ignored
    MENTION = "mention"  # suicide as a topic: news, a loss, a school talk
    THIRD_PARTY = "third_party"  # someone else is at risk
    HISTORY = "history"  # past ideation or behaviour, none now
    VIOLENCE = "violence"  # harm to others
    ABUSE = "abuse"  # the user is being abused
    PASSIVE = "passive"  # C-SSRS 1: wish to be dead
    ACTIVE = "active"  # C-SSRS 2: thoughts of killing oneself
    METHOD = "method"  # C-SSRS 3: thinking of or seeking a method
    INTENT = "intent"  # C-SSRS 4: some intention of acting
    PLAN = "plan"  # C-SSRS 5: a worked-out plan (when, where, how)
    PREPARATION = "preparation"  # C-SSRS 6: preparatory behaviour (means gathered, note, farewells)
    SELF_HARM = "self_harm"  # recent self-harm or an attempt

    @property
    def rank(self) -> int:
        return _RANKS[self]

    @property
    def urgency(self) -> Urgency:
        if self.rank >= _RANKS[Level.METHOD]:
            return Urgency.URGENT
        if self.rank >= _RANKS[Level.THIRD_PARTY]:
            return Urgency.REVIEW
        return Urgency.NONE

    @property
    def label(self) -> str:
        return _LABELS[self]

    @property
    def at_risk(self) -> bool:
        """The user themself is thinking of dying or hurting themself now."""
        return self.rank >= _RANKS[Level.PASSIVE]


_ORDER = list(Level)
_RANKS = {level: index for index, level in enumerate(_ORDER)}
_LABELS = {
    Level.NONE: "해당 없음",
    Level.IDIOM: "관용 표현",
    Level.MENTION: "주제 언급(뉴스·사별)",
    Level.THIRD_PARTY: "타인 위험",
    Level.HISTORY: "과거력",
    Level.VIOLENCE: "타인 위해",
    Level.ABUSE: "학대·폭력 피해",
    Level.PASSIVE: "수동적 자살 사고",
    Level.ACTIVE: "능동적 자살 사고",
    Level.METHOD: "방법 고려",
    Level.INTENT: "실행 의도",
    Level.PLAN: "구체적 계획",
    Level.PREPARATION: "준비 행동",
    Level.SELF_HARM: "최근 자해·시도",
}
URGENT_LEVELS = frozenset(level for level in Level if level.urgency == Urgency.URGENT)
