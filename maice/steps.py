"""The agent's steps, each a unit of its own: classify, clarify, improve, answer, summarise.

Every JSON step asks the gateway for strict JSON and validates what comes back (from an
LLM or from the offline tutor); anything malformed, and any upstream failure, falls back
to rules, so a step always yields a usable result. The answer step only builds its
request: the agent streams it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from django.conf import settings

from conversations.llm import ChatMessage, ChatRequest, LLMError, Usage, get_provider
from conversations.models import Product
from conversations.pii import mask_pii
from maice import prompts

logger = logging.getLogger(__name__)

KNOWLEDGE_CODES = ("K1", "K2", "K3", "K4")
QUALITIES = ("answerable", "needs_clarify", "unanswerable")
TITLE_MAX = 15
_FENCE = re.compile(r"^```(?:json)?\s*|(?<!\s)\s*```$", re.IGNORECASE)


@dataclass(frozen=True)
class Classification:
    knowledge_code: str
    quality: str
    unit_tags: list[str] = field(default_factory=list)
    reasoning: str = ""
    source: str = "llm"  # "llm" or "rules"

    def result(self) -> dict[str, Any]:
        """The ``classification_complete`` event's ``result`` (and the tutor's context)."""
        data = asdict(self)
        data.pop("source")
        return data


@dataclass(frozen=True)
class Improvement:
    improved_question: str
    needs_more: bool


@dataclass(frozen=True)
class Summary:
    summary: str
    title: str
    key_concepts: list[str]


@dataclass
class StepUsage:
    """Tokens of every call the agent made for one request, billed to the answer."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    model: str = ""

    def add(self, usage: Usage | None) -> None:
        if usage is None:
            return
        self.prompt_tokens += usage.prompt_tokens or 0
        self.completion_tokens += usage.completion_tokens or 0
        self.model = usage.model or self.model

    def total(self) -> Usage | None:
        """What was added, as the gateway's ``Usage``; None when no model call reported any."""
        return Usage(self.model, self.prompt_tokens, self.completion_tokens) if self.model else None


def _request(messages: tuple[ChatMessage, ...], context: Mapping[str, Any], *, json_mode: bool,
             max_tokens: int | None = None) -> ChatRequest:
    return ChatRequest(product=Product.MAICE, messages=messages, model=settings.MAICE_LLM_MODEL,
                       json_mode=json_mode, max_tokens=max_tokens, context=dict(context), temperature=0.3)


def parse_json_object(text: str) -> dict[str, Any] | None:
    """The one JSON object of a reply (a Markdown fence around it is tolerated)."""
    try:
        value = json.loads(_FENCE.sub("", text.strip()))
    except (ValueError, RecursionError):  # (nesting deeper than the parser's stack)
        return None
    return value if isinstance(value, dict) else None


async def _complete_json(request: ChatRequest, usage: StepUsage | None) -> dict[str, Any] | None:
    step = request.context.get("step")
    try:
        completion = await get_provider().complete(request)
    except LLMError as exc:
        logger.warning("maice %s step: upstream failed (%s), using rules", step, exc.code)
        return None
    if usage is not None:
        usage.add(completion.usage)
    data = parse_json_object(completion.text)
    if data is None:
        logger.warning("maice %s step: reply is not a JSON object, using rules", step)
    return data


def _strings(value: object, *, limit: int, length: int = 100) -> list[str] | None:
    if not isinstance(value, list):
        return None
    items = [item.strip()[:length] for item in value if isinstance(item, str) and item.strip()]
    return items[:limit]


# --- classify ----------------------------------------------------------------------------


def classification_validate(data: Mapping[str, Any] | None, *, source: str) -> Classification | None:
    if data is None:
        return None
    code, quality = data.get("knowledge_code"), data.get("quality")
    if code not in KNOWLEDGE_CODES or quality not in QUALITIES:
        return None
    tags = _strings(data.get("unit_tags", []), limit=8, length=40)
    reasoning = data.get("reasoning", "")
    if tags is None or not isinstance(reasoning, str):
        return None
    return Classification(str(code), str(quality), tags, reasoning.strip()[:500], source)


def classify_by_rules(question: str) -> Classification:
    from maice.tutor import classify_question

    found = classification_validate(classify_question(question), source="rules")
    if found is None:  # the rules broke their own contract: still answer, plainly
        return Classification("K3", "answerable", [], "규칙 기반 분류", "rules")
    return found


async def classify(question: str, *, usage: StepUsage | None = None) -> Classification:
    request = _request(prompts.classify_messages(question), {"step": "classify", "question": question},
                       json_mode=True, max_tokens=400)
    found = classification_validate(await _complete_json(request, usage), source="llm")
    # The rules run Kiwi: on a thread, so other streams' events keep flowing meanwhile.
    return found if found is not None else await asyncio.to_thread(classify_by_rules, question)


# --- clarify -----------------------------------------------------------------------------


def clarify_fallback(classification: Classification) -> list[str]:
    topic = classification.unit_tags[0] if classification.unit_tags else "이 내용"
    return [
        f"{topic}에서 구체적으로 어떤 부분이 궁금한지 알려 줄 수 있나요?",
        "지금 풀고 있는 문제가 있다면 문제를 그대로 적어 줄래요?",
    ]


async def clarify(
    *, question: str, classification: Classification, round: int, previous: Sequence[Mapping[str, Any]],
    usage: StepUsage | None = None,
) -> list[str]:
    context = {"step": "clarify", "question": question, "classification": classification.result(),
               "round": round, "previous": [dict(p) for p in previous]}
    request = _request(prompts.clarify_messages(question=question, classification=classification.result(),
                                                previous=previous), context, json_mode=True, max_tokens=400)
    data = await _complete_json(request, usage)
    questions = _strings((data or {}).get("questions"), limit=3, length=300)
    return questions if questions else clarify_fallback(classification)


# --- improve -----------------------------------------------------------------------------


def improve_fallback(question: str, previous: Sequence[Mapping[str, Any]]) -> Improvement:
    answers = " ".join(str(p.get("answer", "")).strip() for p in previous if p.get("answer"))
    return Improvement(f"{question} ({answers})" if answers else question, False)


async def improve(*, question: str, previous: Sequence[Mapping[str, Any]],
                  usage: StepUsage | None = None) -> Improvement:
    context = {"step": "improve", "question": question, "previous": [dict(p) for p in previous]}
    request = _request(prompts.improve_messages(question=question, previous=previous), context, json_mode=True,
                       max_tokens=400)
    data = await _complete_json(request, usage) or {}
    improved, needs_more = data.get("improved_question"), data.get("needs_more", False)
    if not isinstance(improved, str) or not improved.strip() or not isinstance(needs_more, bool):
        return improve_fallback(question, previous)
    return Improvement(improved.strip()[: settings.MAICE_QUESTION_MAX_CHARS], needs_more)


# --- answer ------------------------------------------------------------------------------


def answer_request(
    *, question: str, mode: str, classification: Classification | None, history: Sequence[Mapping[str, str]]
) -> ChatRequest:
    result = classification.result() if classification else None
    context = {"step": "answer", "question": question, "classification": result, "mode": mode,
               "history": [dict(h) for h in history]}
    messages = prompts.answer_messages(question=question, mode=mode, classification=result, history=history)
    return _request(messages, context, json_mode=False, max_tokens=settings.MAICE_ANSWER_MAX_TOKENS)


def answer_type(*, mode: str, classification: Classification | None) -> str:
    if mode == "freepass" or classification is None:
        return "freepass"
    if classification.quality == "unanswerable":
        return "unanswerable"
    return classification.knowledge_code


# --- summarise ---------------------------------------------------------------------------


def summary_fallback(question: str, answer: str, tags: Sequence[str] = ()) -> Summary:
    """A summary without the model. The title names the session in lists, so it is the unit
    tags where there are any, else the question's masked start."""
    line = " ".join(mask_pii(question).split())
    title = ", ".join(tags)[:TITLE_MAX].rstrip(", ") or line[:TITLE_MAX]
    return Summary(summary=f"{line[:60]} 학습", title=title, key_concepts=list(tags)[:5])


def summary_validate(data: Mapping[str, Any] | None) -> Summary | None:
    if data is None:
        return None
    summary, title = data.get("summary"), data.get("title")
    concepts = _strings(data.get("key_concepts", []), limit=5, length=40)
    if not isinstance(summary, str) or not summary.strip() or not isinstance(title, str) or concepts is None:
        return None
    one_line = " ".join(summary.split())[:200]
    title = " ".join(title.split())[:TITLE_MAX] or one_line[:TITLE_MAX]
    return Summary(one_line, title, concepts)


async def summarize(*, question: str, answer: str, tags: Sequence[str] = (),
                    usage: StepUsage | None = None) -> Summary:
    context = {"step": "summarize", "question": question, "answer": answer}
    request = _request(prompts.summarize_messages(question=question, answer=answer), context, json_mode=True,
                       max_tokens=300)
    found = summary_validate(await _complete_json(request, usage))
    return found if found is not None else summary_fallback(question, answer, tags)
