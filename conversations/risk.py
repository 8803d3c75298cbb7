"""A second opinion on risk: the LLM's strict-JSON classification and the moderation endpoint.

The rules decide first and alone meet the targets; a configured model can only raise
their level. ``risk_classify`` runs beside the counselor's reply and ``risk_guard``, which
starts it, wraps the reply's events: an urgent answer stops the reply and sends the
fixed crisis reply; a higher non-urgent one flags the session for review. A malformed or
late answer is logged and the rules' level stands.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import time
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Sequence

from django.conf import settings

from conversations.aio import background, future_cancel, run_db
from conversations.alerts import alert_dispatch
from conversations.generation import ReplyChunk, ReplyEvent, ReplyFailed, ReplyFinished
from conversations.llm import ChatMessage, ChatRequest, LLMError, Usage, get_provider
from conversations.models import ChatSession, Message, MessageStatus, ScreeningDecision
from conversations.safety import CRISIS_REPLY, Assessment, Level, assess_async, needs_context
from conversations.screening import screening_escalate
from conversations.services import message_usage_add

logger = logging.getLogger(__name__)

CLASSIFIER_MARKER = "[RISK-CLASSIFIER]"
CLASSIFIER_TURNS = 4  # earlier user turns sent along: risk builds across messages

RISK_PROMPT = f"""{CLASSIFIER_MARKER}
You are a suicide-risk screener for a Korean counseling chat, following the C-SSRS screener.
Classify the LATEST user message, reading the earlier user turns as context.
Answer with one JSON object and nothing else:
{{"level": "<level>", "evidence": "<at most 12 words, English>"}}
Levels, lowest to highest:
- "none": no risk, or an idiom ("배고파 죽겠어", "자살골"), or the risk is denied ("죽고 싶지 않아요")
- "mention": suicide as a topic (news, a loss, school)
- "third_party": someone else is at risk
- "history": past thoughts or acts only, nothing now
- "passive": wishes to be dead or not wake up
- "active": thoughts of killing themself
- "method": thinking of or asking about a method
- "intent": some intention of acting
- "plan": when, where or how is worked out
- "preparation": means gathered, a note written, goodbyes, affairs settled
- "self_harm": has recently hurt themself or attempted
When unsure between two levels, choose the higher."""

_ALLOWED = {level.value: level for level in Level if level not in (Level.VIOLENCE, Level.ABUSE, Level.IDIOM)}
_MODERATION_LEVELS = (
    ("self-harm/instructions", Level.METHOD),
    ("self-harm/intent", Level.ACTIVE),
    ("self-harm", Level.PASSIVE),
)


def risk_request(*, text: str, previous: Sequence[str]) -> ChatRequest:
    turns = [{"earlier": turn} for turn in previous[-CLASSIFIER_TURNS:]] + [{"latest": text}]
    return ChatRequest(
        product="safety",
        messages=(ChatMessage("system", RISK_PROMPT),
                  ChatMessage("user", json.dumps({"user_turns": turns}, ensure_ascii=False))),
        model=settings.CRISIS_CLASSIFIER_MODEL,
        temperature=0.0,
        max_tokens=80,
        json_mode=True,
        context={"classifier": "risk"},
    )


def risk_parse(raw: str) -> Assessment | None:
    """The classifier's answer, or None when it is not the JSON asked for."""
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):  # (nesting deeper than the parser's stack)
        return None
    if not isinstance(data, dict) or not isinstance(data.get("level"), str):
        return None
    level = _ALLOWED.get(data["level"].strip().lower())
    if level is None:
        return None
    evidence = data.get("evidence")
    reason = evidence[:120] if isinstance(evidence, str) else ""
    return Assessment(level=level, evidence=("llm",), matched=reason, source=ScreeningDecision.Source.LLM,
                      category="suicide" if level.at_risk else None)


async def risk_classify(*, text: str, previous: Sequence[str],
                        rows: asyncio.Future[tuple[Message, Message]] | None = None) -> Assessment | None:
    """The model's opinion of ``text``; its tokens are billed to the user's message (the
    first of ``rows``) once that is stored, so the quality page counts them."""
    started = time.monotonic()
    try:
        completion = await asyncio.wait_for(get_provider().complete(risk_request(text=text, previous=previous)),
                                            settings.CRISIS_CLASSIFIER_TIMEOUT)
    except (LLMError, TimeoutError) as exc:
        logger.warning("risk classifier unavailable: %s", getattr(exc, "code", type(exc).__name__))
        return None
    if rows is not None and completion.usage is not None:
        background(_usage_bill(rows, completion.usage))
    result = risk_parse(completion.text)
    if result is None:
        logger.warning("risk classifier answer malformed; the rules' level stands")
    else:
        logger.info("risk classifier: level=%s in %d ms", result.level.value, (time.monotonic() - started) * 1000)
    return result


async def moderation_assess(text: str) -> Assessment | None:
    """The moderation endpoint's verdict: its self-harm or violence categories as a level
    (else ``NONE``), its other categories as ``filtered``; None when it flags nothing."""
    categories = await get_provider().moderation_categories(text)
    filtered = tuple(sorted(c for c in categories if not c.startswith(("self-harm", "violence"))))
    source = ScreeningDecision.Source.MODERATION
    for category, level in _MODERATION_LEVELS:
        if category in categories:
            return Assessment(level=level, evidence=(f"moderation.{category}",), source=source, category="suicide",
                              filtered=filtered)
    if any(name.startswith("violence") for name in categories):
        return Assessment(level=Level.VIOLENCE, evidence=("moderation.violence",), source=source,
                          category="violence_to_others", filtered=filtered)
    return Assessment(level=Level.NONE, source=source, filtered=filtered) if filtered else None


async def input_screen(text: str, *, previous: Callable[[], Awaitable[Sequence[str]]] | None = None,
                       screened: Assessment | None = None) -> Assessment:
    """Every product's screening of a user message before the LLM (platform.md, Safety).

    The rules' level, read with the last user turns (``previous``) when they could change
    it; then, where ``LLM_MODERATION`` is on and the rules found nothing urgent, the
    moderation endpoint's: it may raise the level and adds its other categories as
    ``filtered``. ``screened``: the rules' verdict that let the message past the rate limit
    (``rate_limit_enforce_async``), taken as it is: such a message asks no model at all.
    """
    if screened is not None:
        return screened
    screening = await assess_async(text)
    if previous is not None and needs_context(screening):
        screening = await assess_async(text, previous=await previous())
    if settings.LLM_MODERATION and screening.level.urgency != "urgent":
        moderated = await moderation_assess(text)
        if moderated is not None and moderated.level.rank > screening.level.rank:
            return moderated
        if moderated is not None and moderated.filtered:
            return dataclasses.replace(screening, filtered=moderated.filtered)
    return screening


async def risk_guard(
    events: AsyncIterator[ReplyEvent], *, text: str, previous: Sequence[str], rules: Assessment,
    session: ChatSession, rows: asyncio.Future[tuple[Message, Message]],
) -> AsyncGenerator[ReplyEvent, None]:
    """Pass the reply's events on, unless the second opinion finds an urgent level first.

    The opinion (where a model is configured and the rules' level is not urgent already)
    starts with the reply's first event, once the model has the reply's request: the
    user's reply goes out first. ``rows`` are the user's message and the reply's row,
    possibly still being written. The reply's end waits for the opinion (up to
    ``CRISIS_CLASSIFIER_TIMEOUT``), so an urgent answer can still replace a reply the
    model finished quickly. While the opinion is pending, each next event is awaited in a
    task raced against it; cancelling that task stops the reply generator, which stores
    what was shown as interrupted.
    """
    if not (settings.LLM_BASE_URL and settings.CRISIS_LLM_CLASSIFIER) or rules.level.urgency == "urgent":
        async for event in events:
            yield event
        return
    risk: asyncio.Task[Assessment | None] | None = None
    shown = False
    step: asyncio.Future[ReplyEvent] | None = None
    try:
        while True:
            if risk is not None and not risk.done():
                step = asyncio.ensure_future(anext(events))
                await asyncio.wait({step, risk}, return_when=asyncio.FIRST_COMPLETED)
            if risk is not None and _urgent_raise(risk, rules):
                if step is not None:
                    await future_cancel(step)
                    step = None
                # Closed first: the reply's row keeps what was shown (the reviewers' copy).
                aclose = getattr(events, "aclose", None)
                if aclose is not None:
                    await aclose()
                async for event in _escalate(risk, session=session, rows=rows, shown=shown):
                    yield event
                return
            try:
                # Once the opinion is in, the events pass straight on: no task per event.
                event = await (step if step is not None else anext(events))
            except StopAsyncIteration:
                step = None
                return
            step = None  # (still set if we were cancelled while waiting: the finally stops it)
            if risk is None:
                risk = asyncio.ensure_future(risk_classify(text=text, previous=previous, rows=rows))
            if isinstance(event, ReplyFinished | ReplyFailed):
                if not risk.done():
                    await asyncio.wait({risk}, timeout=settings.CRISIS_CLASSIFIER_TIMEOUT)
                if _urgent_raise(risk, rules):
                    async for escalated in _escalate(risk, session=session, rows=rows, shown=shown):
                        yield escalated
                    return
                await _flag_if_raised(risk, rules, session=session, rows=rows)
            shown = shown or isinstance(event, ReplyChunk)
            yield event
    finally:
        if step is not None:
            await future_cancel(step)  # cancelled meanwhile: the generator must not be left running
        if risk is not None and not risk.done():
            risk.cancel()


async def _usage_bill(rows: asyncio.Future[tuple[Message, Message]], usage: Usage) -> None:
    try:
        asked, _ = await asyncio.shield(rows)
    except Exception:  # noqa: BLE001 - the message was never stored: nothing to bill it to
        return
    await run_db(message_usage_add, message_id=asked.pk, usage=usage)


def _urgent_raise(risk: asyncio.Task[Assessment | None], rules: Assessment) -> bool:
    opinion = _opinion(risk)
    return opinion is not None and opinion.level.rank > rules.level.rank and opinion.level.urgency == "urgent"


def _opinion(risk: asyncio.Task[Assessment | None]) -> Assessment | None:
    if not risk.done() or risk.cancelled() or risk.exception() is not None:
        return None
    return risk.result()


async def _flag_if_raised(risk: asyncio.Task[Assessment | None], rules: Assessment, *, session: ChatSession,
                          rows: asyncio.Future[tuple[Message, Message]]) -> None:
    opinion = _opinion(risk)
    if opinion is None or opinion.level.rank <= rules.level.rank or not opinion.flagged:
        return
    asked, _ = await rows
    await asyncio.shield(run_db(screening_escalate, session=session, asked_id=asked.pk, reply_id=None,
                                assessment=opinion, source=opinion.source, replace_with=None))


async def _escalate(risk: asyncio.Task[Assessment | None], *, session: ChatSession,
                    rows: asyncio.Future[tuple[Message, Message]], shown: bool) -> AsyncIterator[ReplyEvent]:
    opinion = _opinion(risk)
    assert opinion is not None
    asked, reply = await rows
    decision = await asyncio.shield(run_db(screening_escalate, session=session, asked_id=asked.pk,
                                           reply_id=reply.pk, assessment=opinion, source=opinion.source,
                                           replace_with=CRISIS_REPLY))
    alert_dispatch(decision_id=decision.pk)
    yield ReplyChunk(("\n" if shown else "") + CRISIS_REPLY)
    yield ReplyFinished(reply.pk, CRISIS_REPLY, MessageStatus.BLOCKED, crisis=True)
