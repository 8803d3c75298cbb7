"""The offline tutor's replies for each agent step: answer, clarify, improve, summarize."""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Mapping, Sequence
from typing import Any, TypedDict

from maice.tutor import knowledge, morph, vocab
from maice.tutor.classify import KIND_NAMES, REASON_CHEATING, REASON_EMPTY, Classification, classify_question
from maice.tutor.korean import clip, core, particle
from maice.tutor.mathexpr import analyze

logger = logging.getLogger(__name__)

COMPUTE_TIMEOUT = 3.0
MAX_CLARIFY_QUESTIONS = 3
TITLE_MAX_CHARS = 15

_warm_lock = threading.Lock()
_warmed = False
# Follow-up questions that lean on the previous question's expression.
_FOLLOW_UP = re.compile(r"그럼|그러면|그거|그\s*식|이\s*식|위\s*식|같은\s*식|그\s*함수|이\s*함수|이어서|다시|방금")
# A worked example for a method question, by what it asks about (first match wins).
_EXAMPLES: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), example)
    for pattern, example in (
        (r"접선", "x=1에서 f(x)=x^3+2x의 접선의 방정식"),
        (r"극값|극대|극소|증가|감소", "f(x) = x^3 - 3x의 극값"),
        (r"넓이", "0부터 2까지 y=x^2-1의 그래프와 x축 사이의 넓이"),
        (r"부정\s*적분", "∫ (3x^2+2x) dx"),
        (r"적분", "0부터 2까지 x^2 적분"),
        (r"미분|도함수", "f(x)=x^3-3x 미분"),
        (r"극한|lim", "lim x->1 (x^2 - 1)/(x - 1)"),
        (r"판별식|중근", "x^2+4x+k=0이 중근을 가질 때 k의 값"),
        (r"근의\s*공식", "x^2-2x-1=0"),
        (r"부등식", "x^2-3x+2<0을 풀어줘"),
        (r"연립", "x+y=3, x-y=1 연립방정식 풀어줘"),
        (r"이차\s*함수|꼭짓점|꼭지점|포물선|최댓값|최솟값", "y = x^2 - 4x + 3의 꼭짓점"),
        (r"이차\s*방정식|방정식", "x^2 - 5x + 6 = 0을 풀어줘"),
        (r"인수\s*분해", "x^2 + 5x + 6 인수분해"),
        (r"전개|다항식|곱셈\s*공식", "(x + 1)^3 전개"),
        (r"등비", "첫째항이 2이고 공비가 3인 등비수열의 제5항"),
        (r"시그마|∑|수열의\s*합", "∑_{k=1}^{10} k^2"),
        (r"등차|수열", "등차수열 3, 7, 11, ...의 일반항"),
        (r"로그|지수", "log_2 8의 값"),
        (r"삼각|sin|cos|tan|사인|코사인", "sin x = 1/2 풀어줘"),
        (r"벡터|내적", "벡터 a=(1,2), b=(3,4)의 내적"),
        (r"원의|반지름", "원 x^2+y^2-2x+4y-4=0의 중심과 반지름"),
        (r"순열|조합|경우의\s*수", "₅C₂의 값"),
    )
)


def _example_for(text: str) -> str | None:
    return next((example for pattern, example in _EXAMPLES if pattern.search(text)), None)


class Worked(TypedDict):
    task: str
    title: str
    markdown: str
    result: str
    concepts: list[str]


def warm_up() -> None:
    """Load Kiwi and SymPy now (a worker at start-up, the page when a student opens it),
    so the first question does not pay for it (about 3 s on a small machine)."""
    morph.load()
    _warm_sympy()


def _warm_sympy() -> None:
    """Import SymPy and run each task once here, so forked children start warm."""
    global _warmed
    if _warmed:
        return
    with _warm_lock:
        if _warmed:
            return
        from maice.tutor.worked import work

        for _pattern, example in _EXAMPLES:
            try:
                work(example)
            except Exception:
                logger.exception("maice tutor warm-up failed on an example")
        _warmed = True


def _work(question: str) -> Worked | None:
    """Runs in a sandbox worker: the worked answer as plain data."""
    from maice.tutor.worked import work

    result = work(question)
    if result is None:
        return None
    return {"task": result.task, "title": result.title, "markdown": result.markdown, "result": result.result,
            "concepts": list(result.concepts)}


def compute(question: str) -> Worked | None:
    """The worked answer for the question's expression, or None (nothing to compute, too slow, failed)."""
    if not analyze(question).found:
        return None
    from maice.tutor.sandbox import ComputationFailed, ComputationTimeout, run_bounded

    _warm_sympy()
    try:
        return run_bounded(_work, question, timeout=COMPUTE_TIMEOUT)
    except ComputationTimeout:
        logger.info("maice tutor computation timed out")
    except ComputationFailed as exc:
        logger.info("maice tutor could not compute: %s", exc.kind)
    return None


_TASK_WORDS = (vocab.SOLVE, vocab.FACTOR, vocab.EXPAND, vocab.DIFF, vocab.INTEGRATE, vocab.VERTEX, vocab.LIMIT,
               vocab.SIMPLIFY)


def _asks_for_computation(text: str, code: str) -> bool:
    """A formula quoted in a "why" question ("판별식은 왜 b^2-4ac야?") is not a task to compute."""
    query = analyze(text)
    if not query.found:
        return False
    if code in ("K1", "K3") or query.integral or query.derivative or query.approach:
        return True
    return any(pattern.search(text) for pattern in _TASK_WORDS)


def _topics(text: str, classification: Mapping[str, Any]) -> list[knowledge.Topic]:
    found = knowledge.find_topics(text)
    if not found:
        tags = " ".join(classification.get("unit_tags") or [])
        found = knowledge.find_topics(tags)
    return found


def _with_history(question: str, history: Sequence[Mapping[str, Any]]) -> str:
    """A follow-up ("그럼 이 함수를 미분하면?") borrows the last expression the student gave."""
    if analyze(question).found or not _FOLLOW_UP.search(question):
        return question
    for turn in reversed(history):
        earlier = str(turn.get("question") or "")
        query = analyze(earlier)
        if query.found:
            return f"{' , '.join(query.shown)} {question}"
    return question


def _unanswerable(classification: Mapping[str, Any]) -> str:
    reasoning = str(classification.get("reasoning") or "")
    if reasoning == REASON_CHEATING or "부정행위" in reasoning:
        return ("시험이나 평가를 보는 중에 답을 알려 드리는 것은 도와드릴 수 없어요. 🙏\n\n"
                "시험이 끝난 뒤 같은 문제를 가져오면, 어디서 막혔는지 함께 살펴보고 풀이 과정을 차근차근 설명해 드릴게요.")
    if reasoning == REASON_EMPTY:
        return ("질문을 이해하지 못했어요. 😅 수학 질문을 문장이나 식으로 적어 주세요.\n\n"
                "예: `x^2-5x+6=0을 풀어줘`, `이차함수의 꼭짓점은 어떻게 구해요?`, `미분과 적분의 관계가 뭐예요?`")
    return ("저는 고등학교 수학을 돕는 튜터라서, 수학과 관련 없는 질문에는 답하기 어려워요. 🙂\n\n"
            "방정식, 함수, 수열, 미분·적분, 확률과 통계처럼 수학에서 궁금한 점을 물어봐 주세요.")


def _knowledge_section(code: str, topics: list[knowledge.Topic], text: str) -> list[str]:
    if not topics:
        return []
    topic = topics[0]
    if code == "K1":
        lines = [f"## 📘 {topic.name}: 정의와 공식", "", topic.definition]
        if len(topics) > 1:
            lines += ["", topics[1].definition]
        return lines
    if code == "K2":
        relation = knowledge.find_relation(text)
        if relation:
            return ["## 💡 개념 사이의 관계", "", relation]
        return [f"## 💡 {topic.name}의 원리", "", topic.concept, "", "**정의 다시 보기:** " + topic.definition]
    if code == "K3":
        steps = [f"{i}. {step}" for i, step in enumerate(topic.method, 1)]
        return [f"## 📋 {topic.name} 단계별 방법", "", *steps]
    tips = [f"- {tip}" for tip in topic.strategy]
    return [
        f"## 🧭 {topic.name} 문제 해결 전략", "",
        "1. **문제 이해:** 구하는 것과 주어진 조건을 따로 적어 보세요.",
        f"2. **계획:** {topic.name}에서 쓸 수 있는 도구를 떠올려요: " + ", ".join(topic.aspects) + ".",
        "3. **실행:** 한 단계씩 식을 세우고, 단계마다 무엇을 했는지 한 줄로 적어 두세요.",
        "4. **되돌아보기:** 답을 조건에 대입해 확인하고, 막혔던 지점을 오답 노트에 남기세요.",
        "", "**자주 하는 실수와 팁**", *tips,
    ]


def answer(context: Mapping[str, Any]) -> str:
    question = str(context.get("question") or "").strip()
    history = context.get("history") or []
    own = classify_question(question)
    # The agent's classification (an LLM's) leads; without one (freepass) our own does.
    classification: Mapping[str, Any] = context.get("classification") or own
    if own["quality"] == "unanswerable":
        return _unanswerable(own)
    if classification.get("quality") == "unanswerable":
        return _unanswerable(classification)

    code = str(classification.get("knowledge_code") or "K3")
    text = _with_history(question, history)
    topics = _topics(text, classification)
    asks = _asks_for_computation(text, code)
    worked = compute(text) if asks else None
    lines: list[str] = []
    if worked:
        lines += [f"{particle(worked['title'], '을')} 단계별로 풀어 볼게요! ✏️", "", f"## 📝 {worked['title']}", "",
                  worked["markdown"]]
        if code in ("K1", "K2", "K4") and topics:
            lines += ["", *_knowledge_section(code, topics, text)]
        lines += ["", f"**핵심 개념:** {', '.join(worked['concepts'])}",
                  "", "💬 비슷한 문제를 직접 풀어 보고, 막히는 단계가 있으면 그 단계를 알려 주세요."]
        return "\n".join(lines)

    if asks:  # there was something to compute, and it could not be computed
        lines += ["이 식은 제가 오프라인에서 바로 계산하기 어려운 형태예요. 😥 대신 푸는 방향을 알려 드릴게요.", ""]
        if topics:
            lines += _knowledge_section("K3", topics, text)
        lines += ["", "식을 `x^2-5x+6=0`처럼 다시 적어 주거나 구하려는 것(해, 미분, 적분, 극한 등)을 함께 적어 주면 계산해 볼게요."]
        return "\n".join(lines)

    glossary = knowledge.find_glossary(text)
    if glossary and (code == "K1" or not topics):
        return "\n\n".join(["용어의 뜻을 정리해 드릴게요! 📘", *glossary])
    if not topics:
        if code == "K4":
            return "문제를 푸는 전략을 함께 세워 볼게요! 🧭\n\n" + knowledge.GENERAL_STRATEGY
        kind = KIND_NAMES.get(code, "")
        return (f"좋은 질문이에요. 다만 이 {kind} 질문은 제가 오프라인으로 가진 자료로는 정확하게 답하기 어려워요. 🙏\n\n"
                "질문에 단원 이름(예: 이차함수, 수열, 미분)이나 식을 함께 적어 주면 정의, 원리, 풀이 방법을 구체적으로 설명해 드릴게요.")

    if classification.get("quality") == "needs_clarify":
        topic = topics[0]
        lines += [f"{particle(topic.name, '은')} 범위가 넓어서 핵심부터 정리해 드릴게요. 📚", "",
                  f"## 📘 {topic.name} 한눈에 보기", "", topic.definition, "",
                  "**더 알아볼 수 있는 주제:** " + ", ".join(topic.aspects), "",
                  "이 중에서 궁금한 것을 골라 다시 물어보면 더 자세히 설명해 드릴게요."]
        return "\n".join(lines)

    intro = {"K1": "정의와 공식을 정리해 드릴게요! 📘", "K2": "원리를 차근차근 설명해 드릴게요! 💡",
             "K3": "단계별로 설명해 드릴게요! 📋", "K4": "문제를 푸는 전략을 함께 세워 볼게요! 🧭"}[code]
    lines += [intro, "", *_knowledge_section(code, topics, text)]
    example = _example_for(text) or _example_for(topics[0].name)
    if code in ("K3", "K4") and example:
        worked_example = compute(example)
        if worked_example:
            lines += ["", f"## ✏️ 예제: {worked_example['title']}", "", worked_example["markdown"]]
    if code == "K1":
        lines += ["", f"**함께 알아 두면 좋은 것:** {', '.join(topics[0].aspects)}"]
    return "\n".join(lines)


def clarify(context: Mapping[str, Any]) -> list[str]:
    """1–3 questions asking exactly what the question leaves open."""
    question = str(context.get("question") or "").strip()
    previous = context.get("previous") or []
    round_number = max(1, int(context.get("round") or 1))
    answers = " ".join(str(p.get("answer") or "") for p in previous)
    combined = f"{question} {answers}".strip()
    classification = classify_question(combined)
    asked = {q for p in previous for q in (p.get("questions") or [])}
    topics = _topics(combined, classification)
    reasoning = classification["reasoning"]
    questions: list[str] = []

    for pattern, confusion in vocab.CONFUSIONS:
        if pattern.search(combined):
            questions.append(confusion)
    if vocab.MISSING_PROBLEM.search(question) and not analyze(combined).found:
        questions.append("풀고 싶은 문제의 식이나 조건을 그대로 적어 줄 수 있나요? (예: `x^2-5x+6=0`, `y=x^2-4x+3의 꼭짓점`) ✍️")
        questions.append("어느 단계에서 막혔나요, 아니면 무엇을 구해야 하는지부터 헷갈리나요?")
    if topics and ("범위" in reasoning or "불분명" in reasoning or not questions):
        topic = topics[0]
        questions.append(f"'{topic.name}'에서 어떤 부분이 궁금한가요? 예: {', '.join(topic.aspects)} 😊")
        questions.append("개념의 뜻, 원리, 문제 푸는 방법, 공부 전략 중 어떤 설명이 필요한가요? 💡")
    if not topics and not questions:
        if classification["knowledge_code"] == "K4" or re.search(r"공부|시험|내신|수능", combined):
            questions.append("지금 몇 학년이고, 어떤 과목(공통수학, 수학Ⅰ, 수학Ⅱ, 미적분, 확률과 통계)을 공부하고 있나요? 📚")
            questions.append("어떤 시험(내신, 모의고사, 수능)을 준비하고 있고, 어느 단원이 가장 어렵게 느껴지나요?")
        else:
            questions.append("어느 단원에 대한 질문인가요? (예: 이차함수, 수열, 지수와 로그, 미분, 적분) 😊")
            questions.append("개념 설명, 문제 풀이, 공부 방법 중 어떤 도움이 필요한가요? 💡")
    if round_number == 1 and not re.search(r"고[123]|학년|수학Ⅰ|수학Ⅱ|수학1|수학2|미적분|공통수학", combined):
        questions.append("수준에 맞춰 설명할 수 있게, 지금 몇 학년이고 어떤 과목(예: 고1 공통수학, 고2 수학Ⅱ)을 배우고 있나요?")

    fresh = [q for q in dict.fromkeys(questions) if q not in asked]
    if not fresh:
        fresh = ["궁금한 내용을 예시 문제 하나로 보여 줄 수 있나요? 문제를 보면 바로 설명해 드릴게요. ✍️"]
    # Later rounds ask less: the student already answered once or twice.
    limit = max(1, MAX_CLARIFY_QUESTIONS - (round_number - 1))
    return fresh[:limit]


_NO_INFO = re.compile(r"^\s*(몰라요?|모르겠어요?|글쎄요?|아무거나|그냥|네|넵|응|ㅇㅇ|아니요?|음+|\.+|\?+)\s*[.!?~]*\s*$")


def improve(context: Mapping[str, Any]) -> dict[str, Any]:
    question = str(context.get("question") or "").strip()
    previous = context.get("previous") or []
    answers = [str(p.get("answer") or "").strip() for p in previous]
    informative = [a for a in answers if a and not _NO_INFO.match(a)]
    if not informative:
        return {"improved_question": question, "needs_more": True}
    with_expression = next((a for a in reversed(informative) if analyze(a).found), None)
    if with_expression and vocab.MISSING_PROBLEM.search(question):
        improved = vocab.MISSING_PROBLEM.sub(core(with_expression), question, count=1)
    elif with_expression and not analyze(question).found:
        improved = f"{core(with_expression)} {core(question)}"
    else:
        improved = f"{core(question)}: {'; '.join(core(a) for a in informative)}"
    improved = clip(improved, 300)
    needs_more = classify_question(improved)["quality"] == "needs_clarify"
    return {"improved_question": improved, "needs_more": needs_more}


def summarize(context: Mapping[str, Any]) -> dict[str, Any]:
    question = str(context.get("question") or "").strip()
    answer_text = str(context.get("answer") or "")
    classification: Classification = classify_question(question)
    tags = classification["unit_tags"]
    code = classification["knowledge_code"]
    heading = re.search(r"^## [^\w\s]*\s*(.+)$", answer_text, flags=re.MULTILINE)
    worked_title = heading.group(1).strip() if heading else ""
    concepts_line = re.search(r"\*\*핵심 개념:\*\*\s*(.+)$", answer_text, flags=re.MULTILINE)
    concepts = [c.strip() for c in concepts_line.group(1).split(",")] if concepts_line else []
    main = tags[0] if tags else "수학"
    if worked_title and "정의" not in worked_title and "한눈에" not in worked_title:
        title = worked_title.split(":")[0]
    else:
        title = {"K1": f"{main}의 정의", "K2": f"{main}의 원리", "K3": f"{main} 푸는 방법",
                 "K4": f"{main} 학습 전략"}[code]
        if code == "K2" and len(tags) > 1:
            title = f"{particle(tags[0], '과')} {tags[1]}의 관계"
    key_concepts = list(dict.fromkeys([*concepts, *tags]))[:5] or [main]
    if classification["quality"] == "unanswerable":
        return {"summary": "수학 질문이 아니어서 답변 범위를 안내함", "title": "안내", "key_concepts": []}
    summary = f"{title} 학습 완료 - {', '.join(key_concepts[:3])} 정리"
    return {"summary": clip(summary, 120), "title": clip(title, TITLE_MAX_CHARS), "key_concepts": key_concepts}
