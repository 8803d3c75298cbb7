"""Safety screening: crisis levels of user messages, unsafe content in assistant replies.

- ``screen_input`` (``screen.assess``): a C-SSRS-style level with its evidence; Korean is
  matched on Kiwi morphemes, with negation, tense, third parties and context handled.
- ``screen_output``: blocks replies that suggest a method or encourage harm.
- ``replies``: the fixed texts; ``levels``: the levels and their urgency.
"""

from __future__ import annotations

from conversations.safety.kiwi import kiwi_warm
from conversations.safety.levels import URGENT_LEVELS, Level, Urgency
from conversations.safety.output import (
    CATEGORY_HARASSMENT,
    CATEGORY_MEDICAL,
    CATEGORY_PII,
    CATEGORY_SEXUAL,
    CATEGORY_UNSAFE_ADVICE,
    Screening,
    screen_output,
    screen_output_tail,
)
from conversations.safety.replies import (
    ABUSE_REPLY,
    CHECK_IN_ACTIVE,
    CHECK_IN_PASSIVE,
    CRISIS_REPLY,
    SAFE_FALLBACK_REPLY,
    THIRD_PARTY_REPLY,
    VIOLENCE_REPLY,
    check_in,
    fixed_reply,
    held_reply,
)
from conversations.safety.screen import CLEAR, Assessment, assess, assess_async, needs_context

screen_input = assess

__all__ = [
    "ABUSE_REPLY",
    "CATEGORY_HARASSMENT",
    "CATEGORY_MEDICAL",
    "CATEGORY_PII",
    "CATEGORY_SEXUAL",
    "CATEGORY_UNSAFE_ADVICE",
    "CHECK_IN_ACTIVE",
    "CHECK_IN_PASSIVE",
    "CLEAR",
    "CRISIS_REPLY",
    "SAFE_FALLBACK_REPLY",
    "THIRD_PARTY_REPLY",
    "URGENT_LEVELS",
    "VIOLENCE_REPLY",
    "Assessment",
    "Level",
    "Screening",
    "Urgency",
    "assess",
    "assess_async",
    "check_in",
    "fixed_reply",
    "held_reply",
    "kiwi_warm",
    "needs_context",
    "screen_input",
    "screen_output",
    "screen_output_tail",
]
