"""The counseling page in a real Chromium against the real server and the fake upstream.

Async Playwright on purpose: the sync API keeps an event loop running in the test's
thread, and Django then refuses every ORM call (fixtures' and teardown's included).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any, NoReturn

import pytest
from asgiref.sync import sync_to_async
from websockets.asyncio.client import connect

from conversations.aio import run_db
from conversations.models import Message, MessageStatus, Role
from conversations.services import token_issue
from conversations.testing.fake_openai import Behaviour, FakeOpenAI
from counseling.services import session_start

try:
    from playwright.async_api import Page, async_playwright, expect
except ImportError:  # the fixture skips (or fails under REQUIRE_BROWSER=1)
    async_playwright = None
    Page = Any

pytest_plugins = ["tests.live_server"]
# The browser check comes first, so a machine without Chromium skips before any server starts.
pytestmark = [pytest.mark.usefixtures("chromium"), pytest.mark.django_db(transaction=True)]

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    # Loopback only: an HTTP(S)_PROXY in the environment must not catch the test server.
    "--no-proxy-server",
]  # fmt: skip
PASSWORD = "pw-for-tests-1234"  # what tests/conftest.py's make_user sets
SLOW_REPLY = "마음이 힘들 때는 지금 느끼는 감정을 천천히 하나씩 말로 옮겨 보는 것만으로도 조금 가벼워질 수 있어요. " * 5
TIMEOUT_MS = 10_000


def _unavailable(reason: str) -> NoReturn:
    if os.environ.get("REQUIRE_BROWSER") == "1":
        pytest.fail(f"REQUIRE_BROWSER=1 but {reason}")
    pytest.skip(reason)


@pytest.fixture
def chromium() -> str:
    if not Path(CHROMIUM).exists():
        _unavailable(f"no Chromium at {CHROMIUM} (apt-get install chromium, or set CHROMIUM_PATH)")
    if async_playwright is None:
        _unavailable("the playwright package is not installed")
    return CHROMIUM


@pytest.fixture
async def page(chromium: str, asgi_server: str) -> AsyncIterator[Page]:
    """A fresh Chromium page; the server is forked first so it never inherits the browser."""
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS, headless=True)
        context = await browser.new_context(locale="ko-KR", viewport={"width": 1000, "height": 1100})
        page = await context.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        refused = csp_refusals(page)
        yield page
        await browser.close()
    assert not refused, "the pages' own policy refused something they load"


def csp_refusals(page: Page) -> list[str]:
    """What the Content-Security-Policy stopped on this page: its own scripts, styles,
    fonts and connections must all pass it."""
    refused: list[str] = []
    page.on("console", lambda message: refused.append(message.text)
            if message.type == "error" and "Content Security Policy" in message.text else None)
    return refused


@pytest.fixture
def js_errors(page: Page) -> list[str]:
    """Uncaught exceptions in the page's scripts."""
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    return errors


async def _log_in(page: Page, base_url: str, username: str) -> None:
    await page.goto(f"{base_url}/counseling/")
    # Not logged in: Django's login page first, then back to the counseling page.
    assert "/accounts/login/" in page.url
    await page.fill("#id_username", username)
    await page.fill("#id_password", PASSWORD)
    await page.click("#login-submit")
    await page.wait_for_url(f"{base_url}/counseling/")


async def _start(page: Page) -> None:
    await page.click("#start")
    await expect(page.locator("#status")).to_have_attribute("data-state", "ready")


async def test_conversation_streams_and_can_be_stopped(
    fake_llm: FakeOpenAI,
    asgi_server: str,
    make_user: Any,
    page: Page,
    js_errors: list[str],
    settings: Any,
    tmp_path: Path,
) -> None:
    await sync_to_async(make_user)("page-user")
    await _log_in(page, asgi_server, "page-user")

    disclosure = page.locator("#ai-disclosure")
    await expect(disclosure).to_be_visible()
    await expect(disclosure).to_contain_text("인공지능(AI)")
    await expect(disclosure).to_contain_text("의료인이 아니며")
    for line in ("109", "1577-0199", "112", "119"):
        await expect(page.locator("#crisis-lines")).to_contain_text(line)
    await expect(page.locator("#message")).to_be_disabled()

    await _start(page)
    session_key = await page.locator("#app").get_attribute("data-session-id")
    assert session_key and session_key.startswith("sess_")

    # A plain reply: the user's words, then the streamed answer, then "완료".
    said = "요즘 회사에서 스트레스를 많이 받아요"
    await page.select_option("#emotion", "anxious")
    await page.fill("#message", said)
    await expect(page.locator("#counter")).to_have_text(f"{len(said)} / {settings.COUNSELING_MESSAGE_MAX_CHARS}")
    await page.click("#send")
    await expect(page.locator(".msg.user .text")).to_have_text(said)
    await expect(page.locator("#status")).to_have_attribute("data-state", "done")
    await expect(page.locator("#status")).to_have_text("완료")
    await expect(page.locator(".msg.assistant .text")).to_have_text(fake_llm.behaviour.reply)
    await expect(page.locator("#message")).to_have_value("")

    asked = await Message.objects.aget(session__key=session_key, role=Role.USER)
    assert (asked.content, asked.emotion) == (said, "anxious")
    assert asked.client_msg_id and asked.client_timestamp

    # A slow reply stopped after its first words: "중지됨", and the words already shown stay.
    fake_llm.queue(Behaviour(reply=SLOW_REPLY, delay=0.05))
    await page.fill("#message", "그래도 괜찮아질까요?")
    await page.press("#message", "Enter")
    second = page.locator(".msg.assistant").nth(1)
    await expect(page.locator("#status")).to_have_text("응답 중…")
    await expect(second.locator(".text")).to_have_text(re.compile(r"\S{4,}"))
    await expect(page.locator("#send")).to_be_disabled()
    await page.click("#stop")
    await expect(page.locator("#status")).to_have_attribute("data-state", "stopped")
    await expect(page.locator("#status")).to_have_text("중지됨")
    await expect(second).to_contain_text("응답을 중지했습니다.")
    partial = await second.locator(".text").inner_text()
    assert partial and SLOW_REPLY.startswith(partial) and len(partial) < len(SLOW_REPLY)
    await expect(page.locator("#send")).to_be_enabled()

    screenshot = Path(os.environ.get("PAGE_SCREENSHOT") or tmp_path / "counseling_page.png")
    await page.screenshot(path=str(screenshot), full_page=True)

    # Ending the session closes the input for good.
    await page.click("#end")
    await expect(page.locator("#status")).to_have_attribute("data-state", "ended")
    await expect(page.locator("#message")).to_be_disabled()
    await expect(page.locator("#send")).to_be_disabled()
    await expect(page.locator("#start")).to_have_text("새 상담 시작")

    stopped = await Message.objects.filter(session__key=session_key, role=Role.ASSISTANT).order_by("id").alast()
    assert stopped is not None and stopped.status == MessageStatus.INTERRUPTED
    assert stopped.content == partial
    assert js_errors == []


SPOKEN_RECORDER = """
window.__spoken = [];
const fake = {
  speak: (utterance) => window.__spoken.push({text: utterance.text, streaming:
    document.getElementById("status").dataset.state === "streaming"}),
  cancel: () => window.__spoken.push({cancel: true}),
  getVoices: () => [],
};
Object.defineProperty(window, "speechSynthesis", {value: fake, configurable: true});
"""


async def test_the_reply_is_read_out_sentence_by_sentence_as_it_streams(
        fake_llm: FakeOpenAI, asgi_server: str, make_user: Any, page: Page, js_errors: list[str]) -> None:
    # The browser's speech engine is replaced by a recorder: headless Chromium has no voices.
    await page.add_init_script(SPOKEN_RECORDER)
    await run_db(make_user, "listener")
    await _log_in(page, asgi_server, "listener")
    await _start(page)
    reply = "오늘 하루 정말 고생 많으셨어요. 그런 날에는 마음이 지치기 쉬워요. 지금 가장 마음에 남는 일은 무엇인가요?"
    fake_llm.queue(Behaviour(reply=reply, chunk_size=4, delay=0.05))
    await page.fill("#message", "오늘 너무 지쳤어요")
    await page.click("#send")
    await expect(page.locator("#status")).to_have_attribute("data-state", "done")
    spoken = [u for u in await page.evaluate("window.__spoken") if "text" in u]
    assert [u["text"] for u in spoken] == ["오늘 하루 정말 고생 많으셨어요.", "그런 날에는 마음이 지치기 쉬워요.",
                                           "지금 가장 마음에 남는 일은 무엇인가요?"]
    assert spoken[0]["streaming"]  # the first sentence was heard while the rest still streamed
    assert js_errors == []


async def test_upstream_failure_is_shown_and_the_next_message_works(
    fake_llm: FakeOpenAI, asgi_server: str, make_user: Any, page: Page, js_errors: list[str]
) -> None:
    await sync_to_async(make_user)("unlucky")
    await _log_in(page, asgi_server, "unlucky")
    await _start(page)
    fake_llm.queue(Behaviour(fault="500"))
    await page.fill("#message", "오늘 하루가 너무 길었어요")
    await page.click("#send")
    await expect(page.locator("#status")).to_have_attribute("data-state", "error")
    await expect(page.locator("#status")).to_contain_text("다시 시도해 주세요")

    await page.fill("#message", "다시 이야기해도 될까요?")
    await page.click("#send")
    await expect(page.locator("#status")).to_have_text("완료")
    await expect(page.locator(".msg.assistant .text").last).to_have_text(fake_llm.behaviour.reply)
    assert js_errors == []


async def test_too_many_windows_is_explained_and_reconnect_works(
    fake_llm: FakeOpenAI, asgi_server: str, make_user: Any, page: Page, js_errors: list[str], settings: Any
) -> None:
    owner = await sync_to_async(make_user)("many-tabs")
    token = (await sync_to_async(token_issue)(user=owner))[1]
    other = await sync_to_async(session_start)(user=owner)
    uri = f"{asgi_server.replace('http://', 'ws://', 1)}/ws/session/{other.key}?token={token}"
    async with AsyncExitStack() as stack:
        sockets = [
            await stack.enter_async_context(connect(uri, proxy=None)) for _ in range(settings.WS_MAX_SOCKETS_PER_USER)
        ]
        for ws in sockets:
            assert json.loads(await ws.recv())["type"] == "connected"

        await _log_in(page, asgi_server, "many-tabs")
        await page.click("#start")
        await expect(page.locator("#status")).to_contain_text("열려 있는 상담 창이 너무 많습니다")
        await expect(page.locator("#start")).to_have_text("다시 연결")
        await expect(page.locator("#message")).to_be_disabled()

    # The server frees a slot just after the close handshake, so a quick click may still
    # meet a full house; a user would simply press the button again.
    for _ in range(20):
        await page.click("#start")
        await expect(page.locator("#status")).not_to_have_attribute("data-state", "connecting")
        if await page.locator("#status").get_attribute("data-state") == "ready":
            break
        await asyncio.sleep(0.1)
    await expect(page.locator("#status")).to_have_attribute("data-state", "ready")
    await expect(page.locator("#message")).to_be_enabled()
    assert js_errors == []


async def test_textarea_enforces_the_length_limit(
    fake_llm: FakeOpenAI, asgi_server: str, make_user: Any, page: Page, js_errors: list[str], settings: Any
) -> None:
    await sync_to_async(make_user)("long-writer")
    await _log_in(page, asgi_server, "long-writer")
    await _start(page)
    limit = settings.COUNSELING_MESSAGE_MAX_CHARS
    await page.fill("#message", "가" * (limit + 50))
    await expect(page.locator("#message")).to_have_value("가" * limit)
    await expect(page.locator("#counter")).to_have_text(f"{limit} / {limit}")
    assert js_errors == []


async def test_logout_returns_to_the_login_page(
    fake_llm: FakeOpenAI, asgi_server: str, make_user: Any, page: Page
) -> None:
    await sync_to_async(make_user)("leaver")
    await _log_in(page, asgi_server, "leaver")
    await page.click("#logout")
    await page.wait_for_url(re.compile(r"/accounts/login/"))
    await page.goto(f"{asgi_server}/counseling/")
    assert "/accounts/login/" in page.url
