"""The offline customs responder: guidance from rules, honest about what it cannot know."""

from __future__ import annotations

import re

from conversations.llm import ChatMessage, ChatRequest
from customs.offline import customs_reply


def _reply(text: str, intent: str) -> str:
    return customs_reply(ChatRequest(product="customs", messages=(ChatMessage("user", text),), model="offline",
                                     context={"intent": intent}))


def test_regulatory_answers_explain_and_point_to_official_sources() -> None:
    reply = _reply("FTA 원산지 증명은 어떻게 하나요?", "regulatory_inquiry")
    assert "원산지" in reply and "FTA 포털" in reply and "125" in reply


def test_news_answers_say_they_cannot_see_news() -> None:
    reply = _reply("최근 관세 뉴스 알려줘", "news_inquiry")
    assert "실시간 뉴스를 조회할 수 없어서" in reply and "customs.go.kr" in reply


def test_no_figures_are_invented() -> None:
    # Rates, thresholds and dates change: the rules name where to find them instead.
    for text in ("해외직구 면세 한도가 얼마예요?", "스마트폰 관세율 알려줘", "관세 환급 기한", "수입신고 절차"):
        reply = _reply(text, "regulatory_inquiry")
        assert not re.search(r"\d+\s*(%|달러|원|일 이내|년)", reply), reply


def test_greeting_and_unknown_questions() -> None:
    assert "관세·무역 도우미" in _reply("안녕하세요", "general_chat")
    assert "품목, 수출입 방향" in _reply("이거 어떻게 해요", "general_chat")
