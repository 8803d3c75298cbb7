"""Writes of the HS classification: the staged turn and the data version.

``hs_classification_turn`` is what the customs chat endpoint calls for the
``hscode_classification`` intent. The stage lives on the shared session
(``session.state["hs_stage"]``: the stage of the last answer) and moves

    (none) --vague--> information_gathering --answer--> classification --next--> verification
    (none) --specific enough--> classification --next--> verification

A verification completes the product; the next message starts a new one, and so does a
message that asks for a code again ("노트북 HS코드 알려줘") in any stage.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from conversations.aio import run_db
from conversations.errors import DomainError
from conversations.generation import elapsed_ms
from conversations.llm import OFFLINE_MODEL, Usage
from conversations.models import ChatSession, Message, Role
from conversations.services import message_append
from customs.hs import selectors
from customs.hs.classifier import (
    OfflineResult,
    candidate_code,
    classify_offline,
    explain,
    information_message,
    missing_facts,
    verify,
)
from customs.hs.index import LoadedIndex, current_index, run_cpu
from customs.hs.llm import classify_with_llm, verify_with_llm
from customs.hs.models import HSClassification, HSDataVersion, Stage
from customs.hs.schemas import (
    ClassificationResult,
    ClassificationResultData,
    ErrorBody,
    InformationRequest,
    VerificationResult,
)

logger = logging.getLogger(__name__)

STAGE_KEY = "hs_stage"
# The user messages that describe the product so far (ids: their text stays encrypted in
# Message, never copied into the session's plain JSON), and the code under verification.
CONTEXT_KEY = "hs_context"
# The messages a classification reads together: the latest few of an exchange that keeps
# asking (a description that never matches anything would otherwise grow with every turn,
# and every turn re-reads and re-sends all of it).
CONTEXT_MESSAGES = 4

_NEW_REQUEST = re.compile(
    r"hs\s*-?\s*(코드|code|부호|번호)|hscode|세번|품목\s*분류|관세\s*율|분류\s*해|무슨\s*코드|코드\s*(가|는|를|좀)?\s*(뭐|무엇|알려)",
    re.IGNORECASE,
)


def data_version_bump() -> None:
    """Tell every process its retrieval index is stale."""
    stamp = uuid.uuid4().hex
    if not HSDataVersion.objects.filter(pk=1).update(stamp=stamp, changed_at=timezone.now()):
        HSDataVersion.objects.update_or_create(pk=1, defaults={"stamp": stamp})


def _timestamp() -> str:
    return timezone.now().strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


@dataclass
class _TurnStart:
    user_message_id: int
    stage: str | None
    context: dict[str, Any]
    version: str
    earlier_texts: list[str]


def _turn_begin(*, session: ChatSession, text: str, user_message_id: int | None) -> _TurnStart:
    if user_message_id is None:
        user_message_id = message_append(session=session, role=Role.USER, text=text).pk
    state = ChatSession.objects.filter(pk=session.pk).values_list("state", flat=True).first() or {}
    raw = state.get(CONTEXT_KEY)
    context: dict[str, Any] = raw if isinstance(raw, dict) else {}
    ids = [i for i in context.get("message_ids", []) if isinstance(i, int)]
    return _TurnStart(user_message_id=user_message_id, stage=state.get(STAGE_KEY), context=context,
                      version=selectors.data_version(),
                      earlier_texts=selectors.message_texts(session=session, ids=ids) if ids else [])


@dataclass
class _Outcome:
    body: dict[str, Any]
    stage: str | None  # the session's next stage; None: no HS question is open
    reply_text: str
    context: dict[str, Any] = field(default_factory=dict)
    hscode: str = ""
    confidence: float | None = None
    model: str = OFFLINE_MODEL
    description: str = ""
    usage: Usage | None = None  # the LLM's tokens, when it chose or judged


def _turn_finish(*, session: ChatSession, user_message_id: int, outcome: _Outcome, elapsed: int) -> dict[str, Any]:
    with transaction.atomic():
        locked = ChatSession.objects.select_for_update().only("state").get(pk=session.pk)
        state = dict(locked.state or {})
        if outcome.stage:
            state[STAGE_KEY] = str(outcome.stage)
        else:
            state.pop(STAGE_KEY, None)
        if outcome.context:
            state[CONTEXT_KEY] = outcome.context
        else:
            state.pop(CONTEXT_KEY, None)
        ChatSession.objects.filter(pk=session.pk).update(state=state)
        # Sent whole: its first chunk is all of it.
        reply = message_append(session=session, role=Role.ASSISTANT, text=outcome.reply_text,
                               reply_to=Message(pk=user_message_id), model=outcome.model, ttfc_ms=elapsed,
                               total_ms=elapsed, usage=outcome.usage)
        HSClassification.objects.create(
            session=session, message=reply, stage=str(outcome.body["stage"]),
            response_type=outcome.body["type"], hscode=outcome.hscode, confidence=outcome.confidence,
            model=outcome.model, description=outcome.description or None, body=outcome.body,
            processing_time_ms=outcome.body.get("processing_time_ms", 0),
        )
    return state


def _envelope(*, session: ChatSession, user_id: str | int | None) -> dict[str, Any]:
    return {"timestamp": _timestamp(), "session_uuid": session.key, "user_id": user_id}


async def _classification(*, loaded: LoadedIndex, description: str, result: OfflineResult,
                          envelope: dict[str, Any], context_ids: list[int]) -> _Outcome:
    best = result.best
    assert best is not None
    titles = loaded.titles
    explanation = await run_cpu(lambda: explain(result=result, description=description,
                                                           index=loaded.index, titles=titles))
    code = candidate_code(best)
    alternatives = list(dict.fromkeys(candidate_code(c) for c in result.candidates[1:4] if c.hs6 != best.hs6))
    data = ClassificationResultData(
        hscode=code, confidence_score=result.confidence, classification_reason=explanation.reason,
        gri_application=explanation.gri, alternative_codes=alternatives,
        verification_sources=explanation.sources, recommendations=explanation.recommendations,
        risk_assessment=explanation.risk,
    )
    model, usage = OFFLINE_MODEL, None
    if settings.LLM_BASE_URL:
        answer = await classify_with_llm(description=description, result=result, index=loaded.index)
        if answer is not None:
            choice = answer.choice
            model, usage = answer.usage.model, answer.usage
            data = ClassificationResultData(
                hscode=choice.hscode, confidence_score=round(choice.confidence_score, 2),
                classification_reason=choice.classification_reason, gri_application=choice.gri_application,
                alternative_codes=choice.alternative_codes or [a for a in alternatives if a != choice.hscode],
                verification_sources=[*explanation.sources, "LLM 품목분류 검토"],
                recommendations=choice.recommendations or explanation.recommendations,
                risk_assessment=choice.risk_assessment or explanation.risk,
            )
    body = ClassificationResult(result=data, **envelope).model_dump()
    reply = (f"HS 코드 {data.hscode} (신뢰도 {data.confidence_score:.2f})\n{data.classification_reason}\n"
             f"{data.gri_application}")
    return _Outcome(body=body, stage=Stage.CLASSIFICATION, reply_text=reply, hscode=data.hscode,
                    confidence=data.confidence_score, model=model, description=description, usage=usage,
                    context={"message_ids": context_ids, "hscode": data.hscode,
                             "alternatives": data.alternative_codes})


HIDDEN_MESSAGE = "이 답변은 검토 후 숨겨졌습니다."


def hs_body_hidden(*, body: dict[str, Any]) -> dict[str, Any]:
    """What a retry of an HS answer a moderator hid gets: the error form, at its stage, and
    none of the answer's words or codes."""
    envelope = {"timestamp": body.get("timestamp") or _timestamp(), "session_uuid": body.get("session_uuid", ""),
                "user_id": body.get("user_id")}
    return ErrorBody(stage=str(body.get("stage") or Stage.INFORMATION_GATHERING), message=HIDDEN_MESSAGE,
                     error_detail="숨겨진 답변", **envelope).model_dump()


def _error(*, stage: str | None, message: str, detail: str, envelope: dict[str, Any],
           context: dict[str, Any]) -> _Outcome:
    body = ErrorBody(stage=stage or Stage.INFORMATION_GATHERING, message=message, error_detail=detail,
                     **envelope).model_dump()
    # The stage and what was said so far stay: the user can simply try again. A session
    # that had none gets none: no question was asked, so its next message is routed afresh.
    return _Outcome(body=body, stage=stage, reply_text=message, context=context)


async def _answer(*, session: ChatSession, text: str, start: _TurnStart, user_id: str | int | None) -> _Outcome:
    envelope = _envelope(session=session, user_id=user_id)
    previous = start.stage if start.stage in Stage.values else None
    if not start.version:
        logger.warning("hs nomenclature not loaded: run manage.py load_hscodes")
        return _error(stage=previous,
                      message="HS 품목분류 데이터가 아직 준비되지 않았습니다. 잠시 후 다시 시도해주세요.",
                      detail="품목분류표 미적재", envelope=envelope,
                      context=start.context)
    loaded = await current_index(version=start.version)
    index = loaded.index
    ids = [i for i in start.context.get("message_ids", []) if isinstance(i, int)]
    continues = previous in (Stage.INFORMATION_GATHERING, Stage.CLASSIFICATION)
    if continues and _NEW_REQUEST.search(text):
        # A new request names a product ("노트북 HS코드는?"), an answer may not ("네, 코드 알려주세요").
        continues = not await run_cpu(lambda: bool(index.query_terms(text)))

    if previous == Stage.CLASSIFICATION and continues and start.context.get("hscode"):
        description = "\n".join([*start.earlier_texts, text])
        chosen = str(start.context["hscode"])
        alternatives = [str(a) for a in start.context.get("alternatives", [])]
        checked = await run_cpu(lambda: verify(index=index, chosen=chosen, alternatives=alternatives,
                                               description=description, titles=loaded.titles))
        message, code, model, usage = checked.message, checked.best_code, OFFLINE_MODEL, None
        if settings.LLM_BASE_URL:
            judged = await verify_with_llm(description=description, chosen=chosen, alternatives=alternatives,
                                           index=index, retrieval_verdict=checked.message)
            if judged is not None:
                message, code, model = judged.verdict.message, judged.verdict.hscode, judged.usage.model
                usage = judged.usage
        body = VerificationResult(message=message, **envelope).model_dump()
        return _Outcome(body=body, stage=Stage.VERIFICATION, reply_text=message, hscode=code, model=model, usage=usage,
                        description=description)

    asked = previous == Stage.INFORMATION_GATHERING and continues
    context_ids = [*ids, start.user_message_id][-CONTEXT_MESSAGES:] if asked else [start.user_message_id]
    description = "\n".join([*start.earlier_texts, text]) if asked else text
    result = await run_cpu(lambda: classify_offline(index=index, description=description))
    facts = [] if asked else missing_facts(result, description)
    if facts or result.best is None:
        facts = facts or ["material", "function", "use"]
        message = information_message(result=result, facts=facts, titles=loaded.titles)
        body = InformationRequest(message=message, **envelope).model_dump()
        return _Outcome(body=body, stage=Stage.INFORMATION_GATHERING, reply_text=message,
                        description=description, context={"message_ids": context_ids, "facts": facts})
    return await _classification(loaded=loaded, description=description, result=result, envelope=envelope,
                                 context_ids=context_ids)


async def hs_classification_turn(*, session: ChatSession, message: str, user_id: str | int | None,
                                 user_message: Message | None = None, started: float | None = None
                                 ) -> dict[str, Any]:
    """One user message of the staged HS classification; returns the JSON body to send.

    Stores the user's message (unless the caller already did and passes it as
    ``user_message``), the answer as an assistant message (model ``offline`` unless an
    LLM chose) and an ``HSClassification`` row, and moves ``session.state["hs_stage"]``.
    Domain errors (an ended session) propagate; any other failure becomes the seed's
    error body. Every code in a body exists in the loaded nomenclature. The answer's stored
    timing counts from ``started`` (``time.monotonic()`` when the request arrived), else
    from here.
    """
    arrived = time.monotonic() if started is None else started
    began = time.perf_counter()
    text = message.strip()
    start = await run_db(_turn_begin, session=session, text=text,
                         user_message_id=user_message.pk if user_message is not None else None)
    try:
        outcome = await _answer(session=session, text=text, start=start, user_id=user_id)
    except DomainError:
        raise
    except Exception as exc:  # the user gets the seed's error body, never a trace
        logger.exception("hs classification failed: %s", type(exc).__name__)
        outcome = _error(stage=start.stage if start.stage in Stage.values else None,
                         message="HSCode 분류 중 오류가 발생했습니다. 다시 시도해주세요.",
                         detail="내부 처리 오류", envelope=_envelope(session=session, user_id=user_id),
                         context=start.context)
    if "processing_time_ms" in outcome.body:
        outcome.body["processing_time_ms"] = round((time.perf_counter() - began) * 1000)
    state = await run_db(_turn_finish, session=session, user_message_id=start.user_message_id, outcome=outcome,
                         elapsed=elapsed_ms(arrived))
    session.state = state
    return outcome.body
