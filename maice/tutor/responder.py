"""The offline provider's responder for product "maice": one reply per agent step.

The agent sends its step in ``ChatRequest.context`` (``step`` plus that step's fields,
see ``docs`` in maice.md's agreed contract); JSON steps return JSON text, the answer
step returns Korean Markdown with ``$…$`` LaTeX.
"""

from __future__ import annotations

import json
from typing import Any

from conversations.llm import ChatRequest
from maice.tutor import compose
from maice.tutor.classify import classify_question


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def respond(request: ChatRequest) -> str:
    context = dict(request.context)
    step = context.get("step")
    if step == "classify":
        return _json(classify_question(str(context.get("question") or "")))
    if step == "clarify":
        return _json({"questions": compose.clarify(context)})
    if step == "improve":
        return _json(compose.improve(context))
    if step == "summarize":
        return _json(compose.summarize(context))
    if step != "answer" and not context.get("question"):
        # A request without the agreed context: answer the student's last message.
        context["question"] = next((m.content for m in reversed(request.messages) if m.role == "user"), "")
    return compose.answer(context)
