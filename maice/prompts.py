"""Every prompt the MAICE agent sends, one builder per step.

Each builder returns the messages of one LLM call. The student's words appear once per
prompt (in the last user message), so a model never reads a question twice.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from conversations.llm import ChatMessage

CLASSIFY_SYSTEM = """당신은 한국 고등학생의 수학 질문을 분류하는 MAICE 분류기입니다.
학생의 질문을 읽고 지식 유형(knowledge_code)과 질문 품질(quality)을 판정하세요.

지식 유형 (K1~K4 중 하나):
- K1 사실적 지식: 정의, 용어, 공식, 값을 묻는 질문 (예: "근의 공식이 뭐예요?")
- K2 개념적 지식: 관계, 원리, 비교, 이유를 묻는 질문 (예: "미분과 적분은 어떤 관계인가요?")
- K3 절차적 지식: 방법, 풀이 단계, 계산 과정을 묻는 질문 (예: "이차방정식은 어떻게 풀어요?")
- K4 메타인지·문제해결: 전략, 계획, 성찰, 공부 방법을 묻는 질문 (예: "이 유형은 어떤 전략으로 접근해야 하나요?")

질문 품질 (quality):
- answerable: 수학 질문이며 범위와 목표가 분명해 바로 답할 수 있음
- needs_clarify: 범위가 너무 넓거나, 학습 목표나 수준이 불분명하거나, 용어를 혼동하고 있음
- unanswerable: 수학과 무관하거나, 시험 부정행위(시험 중 답 요청 등), 답할 수 없는 요청

반드시 아래 형식의 JSON 객체 하나만 출력하세요. 다른 글은 쓰지 마세요.
{"knowledge_code": "K1|K2|K3|K4", "quality": "answerable|needs_clarify|unanswerable", "unit_tags": ["단원 또는 개념", ...], "reasoning": "판정 이유 한 문장"}"""

CLARIFY_SYSTEM = """당신은 한국 고등학생을 돕는 친절한 수학 튜터 MAICE입니다.
학생의 질문이 모호해서 바로 답하기 어렵습니다. 학생이 정말 알고 싶은 것을 알아내기 위한
짧은 명료화 질문을 1~3개 한국어로 만드세요. 학생을 존중하는 따뜻한 말투를 쓰고,
이미 답한 내용은 다시 묻지 마세요.

반드시 아래 형식의 JSON 객체 하나만 출력하세요.
{"questions": ["명료화 질문", ...]}"""

IMPROVE_SYSTEM = """당신은 한국 고등학생을 돕는 수학 튜터 MAICE입니다.
학생의 원래 질문과 명료화 질문에 대한 학생의 답을 합쳐, 바로 답할 수 있는 하나의 구체적인
질문으로 다시 쓰세요. 그래도 무엇을 원하는지 알 수 없으면 needs_more를 true로 하세요.

반드시 아래 형식의 JSON 객체 하나만 출력하세요.
{"improved_question": "구체화된 질문", "needs_more": false}"""

ANSWER_SYSTEM = """당신은 한국 고등학생을 돕는 친절한 수학 튜터 MAICE입니다.
- 한국어로, 학생의 수준에 맞춰 단계별로 설명하세요.
- Markdown으로 쓰고, 수식은 LaTeX로 인라인은 $...$, 별도 줄은 $$...$$ 로 쓰세요.
- 정답만 주기보다 왜 그런지 이해하도록 돕고, 마지막에 스스로 확인해 볼 질문을 하나 남기세요.
- 확실하지 않은 계산은 추측하지 말고 확인하는 방법을 알려 주세요."""

# What each knowledge type asks of the answer.
ANSWER_GUIDANCE: dict[str, str] = {
    "K1": "사실적 지식 질문입니다. 정의나 공식을 정확히 제시하고 간단한 예를 하나 드세요.",
    "K2": "개념적 지식 질문입니다. 개념 사이의 관계와 원리를 직관과 함께 설명하세요.",
    "K3": "절차적 지식 질문입니다. 풀이 절차를 번호를 매긴 단계로 보여 주고 예제를 하나 풀어 보세요.",
    "K4": "문제해결·메타인지 질문입니다. 접근 전략과 점검 방법을 제시하고 학생이 스스로 생각할 여지를 남기세요.",
}

UNANSWERABLE_SYSTEM = """당신은 한국 고등학생을 돕는 수학 튜터 MAICE입니다.
이 질문은 수학 학습 질문이 아니거나 도와줄 수 없는 요청입니다. 왜 답할 수 없는지
두세 문장으로 정중하게 설명하고, 대신 도울 수 있는 수학 질문의 예를 하나 제안하세요."""

FREEPASS_SYSTEM = ANSWER_SYSTEM + "\n- 질문을 분류하거나 되묻지 말고 바로 답하세요."

SUMMARIZE_SYSTEM = """당신은 수학 학습 기록을 정리하는 MAICE입니다. 학생의 질문과 튜터의 답변을 읽고
학생이 무엇을 배웠는지 정리하세요.
- summary: 배운 내용을 한국어 한 줄(80자 이내)로
- title: 이 대화의 제목, 15자 이내
- key_concepts: 핵심 개념 1~5개

반드시 아래 형식의 JSON 객체 하나만 출력하세요.
{"summary": "한 줄 요약", "title": "15자 이내 제목", "key_concepts": ["개념", ...]}"""


def _rounds_text(previous: Sequence[Mapping[str, Any]]) -> str:
    lines = []
    for number, item in enumerate(previous, start=1):
        asked = " / ".join(str(q) for q in item.get("questions", []))
        lines.append(f"{number}차 명료화 질문: {asked}\n학생의 답: {item.get('answer', '')}")
    return "\n".join(lines)


def classify_messages(question: str) -> tuple[ChatMessage, ...]:
    return (ChatMessage("system", CLASSIFY_SYSTEM), ChatMessage("user", f"학생의 질문:\n{question}"))


def clarify_messages(
    *, question: str, classification: Mapping[str, Any], previous: Sequence[Mapping[str, Any]]
) -> tuple[ChatMessage, ...]:
    facts = f"분류 결과: {json.dumps(dict(classification), ensure_ascii=False)}"
    if previous:
        facts += "\n지금까지의 명료화:\n" + _rounds_text(previous)
    return (ChatMessage("system", f"{CLARIFY_SYSTEM}\n\n{facts}"), ChatMessage("user", f"학생의 질문:\n{question}"))


def improve_messages(*, question: str, previous: Sequence[Mapping[str, Any]]) -> tuple[ChatMessage, ...]:
    return (
        ChatMessage("system", f"{IMPROVE_SYSTEM}\n\n지금까지의 명료화:\n{_rounds_text(previous)}"),
        ChatMessage("user", f"학생의 원래 질문:\n{question}"),
    )


def answer_messages(
    *,
    question: str,
    mode: str,
    classification: Mapping[str, Any] | None,
    history: Sequence[Mapping[str, str]],
) -> tuple[ChatMessage, ...]:
    """The answer prompt: the earlier questions and answers of the session, then this one."""
    if mode == "freepass":
        system = FREEPASS_SYSTEM
    elif classification and classification.get("quality") == "unanswerable":
        system = UNANSWERABLE_SYSTEM
    else:
        system = ANSWER_SYSTEM
        code = (classification or {}).get("knowledge_code")
        if code in ANSWER_GUIDANCE:
            system += f"\n\n{ANSWER_GUIDANCE[code]}"
        tags = (classification or {}).get("unit_tags") or []
        if tags:
            system += f"\n관련 단원: {', '.join(str(t) for t in tags)}"
    turns: list[ChatMessage] = [ChatMessage("system", system)]
    for turn in history:
        turns += [ChatMessage("user", turn["question"]), ChatMessage("assistant", turn["answer"])]
    turns.append(ChatMessage("user", question))
    return tuple(turns)


def summarize_messages(*, question: str, answer: str) -> tuple[ChatMessage, ...]:
    return (
        ChatMessage("system", SUMMARIZE_SYSTEM),
        ChatMessage("user", f"학생의 질문:\n{question}\n\n튜터의 답변:\n{answer}"),
    )
