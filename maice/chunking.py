"""Answer chunks: 50–200 characters, cut at whitespace or sentence ends, never inside a
LaTeX expression (``$…$``, ``$$…$$``) or a Markdown code span or fence.

The frontend renders each chunk as it comes; a cut inside ``$x^2$`` would show raw TeX
until the next chunk. Chunks joined give the answer back exactly.
"""

from __future__ import annotations

_SENTENCE_END = ".!?。…"


def _run(text: str, i: int) -> int:
    """How many backticks start at ``i``."""
    j = i
    while j < len(text) and text[j] == "`":
        j += 1
    return j - i


def _cuts(text: str) -> tuple[list[int], list[int]]:
    """Safe cut offsets in ``text`` (which starts outside math and code): after whitespace,
    and the subset after a sentence end followed by whitespace. Both ascending."""
    cuts: list[int] = []
    sentence: list[int] = []
    i, n = 0, len(text)
    math = ""  # "", "$" or "$$"
    ticks = 0  # backticks of the open code span (a fence is a span of three or more)
    while i < n:
        ch = text[i]
        if ticks:
            if ch == "`":
                run = _run(text, i)
                if run == ticks:
                    ticks = 0
                i += run
                continue
            i += 1
            continue
        if ch == "\\" and i + 1 < n:
            i += 2  # an escaped character (\$ is a dollar sign, not math)
            continue
        if ch == "$":
            double = text.startswith("$$", i)
            if not math:
                math = "$$" if double else "$"
            elif math == "$$" and double:
                math = ""
            elif math == "$" and not double:
                math = ""
            i += 2 if double and math in ("$$", "") else 1
            continue
        if math:
            i += 1
            continue
        if ch == "`":
            run = _run(text, i)
            ticks = run
            i += run
            continue
        if ch.isspace():
            cuts.append(i + 1)
            if i > 0 and text[i - 1] in _SENTENCE_END:
                sentence.append(i + 1)
        i += 1
    return cuts, sentence


def _choose(text: str, *, min_chars: int, max_chars: int) -> int | None:
    cuts, sentence = _cuts(text)
    fitting = [c for c in cuts if min_chars <= c <= max_chars]
    if fitting:
        # A sentence end reads better than a space, when one fits.
        ends = [c for c in sentence if min_chars <= c <= max_chars]
        return (ends or fitting)[-1]
    if len(text) > max_chars:
        # A formula or code span longer than the limit: its end, never its middle.
        longer = [c for c in cuts if c > max_chars]
        return longer[0] if longer else None
    return None


class AnswerChunker:
    """Feed streamed text in; take out chunks that follow the rules."""

    def __init__(self, *, min_chars: int = 50, max_chars: int = 200) -> None:
        self.min_chars = min_chars
        self.max_chars = max_chars
        self._buffer = ""

    def feed(self, text: str) -> list[str]:
        self._buffer += text
        chunks = []
        while len(self._buffer) >= self.min_chars:
            cut = _choose(self._buffer, min_chars=self.min_chars, max_chars=self.max_chars)
            if cut is None:
                break
            chunks.append(self._buffer[:cut])
            self._buffer = self._buffer[cut:]
        return chunks

    def flush(self) -> list[str]:
        """What is left once the answer is whole (the last chunk may be shorter)."""
        chunks = self.feed("")
        rest, self._buffer = self._buffer, ""
        if rest:
            chunks.append(rest)
        return chunks

    @property
    def pending(self) -> str:
        return self._buffer


def split_answer(text: str, *, min_chars: int = 50, max_chars: int = 200) -> list[str]:
    chunker = AnswerChunker(min_chars=min_chars, max_chars=max_chars)
    return chunker.feed(text) + chunker.flush()
