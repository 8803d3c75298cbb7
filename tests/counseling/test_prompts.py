from __future__ import annotations

import pytest

from counseling.prompts import BASE_PROMPT, EMOTION_GUIDANCE, emotion_normalize, system_prompt


def test_seed_emotions_and_frontend_emotions_all_have_guidance() -> None:
    assert set(EMOTION_GUIDANCE) == {"anxious", "sad", "angry", "happy", "neutral", "fearful", "disgusted", "surprised"}


def test_prompt_states_the_seeds_principles() -> None:
    for phrase in ("전문 심리 상담사", "인지행동치료(CBT)", "감정을 먼저 인정", "질문을 한 번에 하나", "2~3문장", "AI 상담사"):
        assert phrase in BASE_PROMPT


@pytest.mark.parametrize("emotion", sorted(EMOTION_GUIDANCE))
def test_guidance_is_appended_in_the_seeds_format(emotion: str) -> None:
    assert system_prompt(emotion) == f"{BASE_PROMPT}\n\n현재 감정 상태: {EMOTION_GUIDANCE[emotion]}"


@pytest.mark.parametrize("value,expected", [
    ("Anxious ", "anxious"), ("sad", "sad"), (None, None), ("bored", None), (3, None), ("", None),
])
def test_emotion_normalize(value: object, expected: str | None) -> None:
    assert emotion_normalize(value) == expected
    assert system_prompt(emotion_normalize(value)) == (system_prompt(expected) if expected else BASE_PROMPT)
