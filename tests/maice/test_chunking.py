"""Chunk rules: 50–200 characters, cut at whitespace or sentence ends, never inside math or code."""

from __future__ import annotations

import random

import pytest

from maice.chunking import AnswerChunker, split_answer

ANSWER = (
    "## 이차방정식 풀이\n\n"
    "근의 공식은 $x = \\frac{-b \\pm \\sqrt{b^2 - 4ac}}{2a}$ 입니다. 판별식 $D = b^2 - 4ac$ 의 부호로 근의 개수를 알 수 있어요. "
    "예를 들어 $$x^2 - 5x + 6 = 0$$ 은 $(x-2)(x-3) = 0$ 이므로 $x = 2$ 또는 $x = 3$ 입니다. "
    "가격은 \\$5 입니다. 코드로는 `sympy.solve(x**2 - 5*x + 6, x)` 라고 쓰면 됩니다.\n\n"
    "```python\nfrom sympy import symbols, solve\nx = symbols('x')\nprint(solve(x**2 - 5*x + 6, x))\n```\n"
    "마지막으로 스스로 확인해 볼까요? $x^2 - 4x + 4 = 0$ 의 근은 몇 개일까요?"
)


def _balanced(chunk: str) -> bool:
    unescaped = chunk.replace("\\$", "")
    return unescaped.count("$") % 2 == 0 and chunk.count("`") % 2 == 0


def _streamed(text: str, sizes: list[int]) -> list[str]:
    chunker, out, i = AnswerChunker(), [], 0
    for size in sizes:
        out += chunker.feed(text[i : i + size])
        i += size
    out += chunker.feed(text[i:])
    return out + chunker.flush()


@pytest.mark.parametrize("seed", range(20))
def test_streamed_chunks_follow_the_rules_whatever_the_pieces(seed: int) -> None:
    rng = random.Random(seed)
    chunks = _streamed(ANSWER, [rng.randint(1, 12) for _ in range(200)])
    assert "".join(chunks) == ANSWER
    for chunk in chunks[:-1]:
        assert 50 <= len(chunk) <= 200, chunk
        assert chunk[-1].isspace()
        assert _balanced(chunk), chunk


def test_whole_text_is_cut_at_sentence_ends_when_one_fits() -> None:
    chunks = split_answer(ANSWER)
    assert "".join(chunks) == ANSWER
    assert all(_balanced(c) for c in chunks)
    sentence_cut = [c for c in chunks[:-1] if c.rstrip()[-1:] in ".!?"]
    assert sentence_cut


def test_a_formula_longer_than_the_limit_is_never_split() -> None:
    formula = "$" + " + ".join(f"a_{i} x^{i}" for i in range(40)) + "$"
    text = "다항식은 " + formula + " 처럼 씁니다. " + "설명이 이어집니다. " * 10
    chunks = split_answer(text)
    assert "".join(chunks) == text
    assert any(formula in c for c in chunks)
    assert all(_balanced(c) for c in chunks)


def test_a_short_answer_is_one_chunk_and_nothing_is_held_back() -> None:
    assert split_answer("$x = 2$ 입니다.") == ["$x = 2$ 입니다."]
    chunker = AnswerChunker()
    assert chunker.feed("짧은 답") == [] and chunker.flush() == ["짧은 답"]


def test_the_first_chunk_goes_out_as_soon_as_it_may() -> None:
    chunker = AnswerChunker()
    first = "이차함수 그래프를 그리는 방법을 단계별로 설명해드릴게요! 먼저 꼭짓점을 찾는 것부터 시작합니다. "
    assert chunker.feed(first) == [first]
