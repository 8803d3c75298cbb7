"""The offline counselor writes useful, deterministic Korean replies."""

from __future__ import annotations

import re

import pytest

from conversations.llm import ChatMessage, ChatRequest
from counseling.offline import counseling_reply


def ask(text: str, emotion: str | None = "neutral", history: int = 0) -> str:
    messages = [ChatMessage("system", "s")] + [ChatMessage("user", f"이전 {i}") for i in range(history)]
    messages.append(ChatMessage("user", text))
    return counseling_reply(ChatRequest(product="counseling", messages=tuple(messages), model="m",
                                        context={"emotion": emotion}))


def sentences(reply: str) -> list[str]:
    return [s for s in re.split(r"(?<=[.?!])\s+", reply) if s]


@pytest.mark.parametrize("emotion", ["anxious", "sad", "angry", "happy", "neutral", "fearful", "disgusted", "surprised"])
def test_reply_reflects_then_asks_exactly_one_question(emotion: str) -> None:
    reply = ask("요즘 그냥 그래요", emotion)
    assert reply.count("?") == 1 and reply.endswith("?")
    assert 2 <= len(sentences(reply)) <= 3
    assert re.search(r"[가-힣]", reply)


def test_reply_is_deterministic_and_emotion_aware() -> None:
    assert ask("시험 때문에 잠을 못 자요", "anxious") == ask("시험 때문에 잠을 못 자요", "anxious")
    assert ask("시험 때문에 잠을 못 자요", "anxious") != ask("시험 때문에 잠을 못 자요", "angry")


def test_reply_names_the_situation() -> None:
    assert "회사 일" in ask("요즘 회사에서 스트레스를 많이 받아요", "anxious")
    assert "가족" in ask("엄마랑 또 싸웠어요", "angry")


@pytest.mark.parametrize("text,marker", [
    ("저는 항상 실수만 해요", "'항상'"),
    ("이번 발표는 완전히 망했어요", "가장 현실적인 결과"),
    ("다 제 잘못이에요", "책임이 아닌 부분"),
])
def test_cognitive_distortions_get_a_reframing_question(text: str, marker: str) -> None:
    assert marker in ask(text, "sad")


def test_unknown_emotion_falls_back_to_neutral() -> None:
    assert ask("안녕하세요", None) == ask("안녕하세요", "neutral")
