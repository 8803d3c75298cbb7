"""The offline MAICE tutor: rule-based classification, clarifying questions and worked answers.

``classify_question`` is the agent's fallback when the LLM fails; ``respond`` is the
offline provider's responder for product "maice" (registered in ``maice.apps``).
Nothing heavy happens at import: Kiwi and SymPy load on first use.
"""

from __future__ import annotations

from maice.tutor.classify import Classification, classify_question
from maice.tutor.compose import warm_up
from maice.tutor.responder import respond

__all__ = ["Classification", "classify_question", "respond", "warm_up"]
