"""The /customs/ page in a real Chromium against the real server: the seed's client code
(content-type branching, its SSE reader) drives cards, streamed answers and detail buttons."""

from __future__ import annotations

import os
import re
from typing import Any

import pytest
from django.utils import timezone

from conversations.aio import run_db
from conversations.models import ChatSession, Message, MessageStatus, Role
from conversations.testing.fake_openai import Behaviour, FakeOpenAI
from customs.models import CargoType, Shipment, ShipmentEvent
from tests.counseling.test_page import PASSWORD, chromium, js_errors, page  # noqa: F401 - fixtures

try:
    from playwright.async_api import Page, expect
except ImportError:
    Page = Any

pytest_plugins = ["tests.live_server"]
pytestmark = [pytest.mark.usefixtures("chromium"), pytest.mark.django_db(transaction=True)]


def _shipment() -> None:
    shipment = Shipment.objects.create(cargo_number="CSQU3054383", cargo_type=CargoType.CONTAINER,
                                       product_name="냉동 새우", progress_status="반입완료",
                                       clearance_status="수입신고", discharge_port="부산항")
    ShipmentEvent.objects.create(shipment=shipment, occurred_at=timezone.now(), kind="반입신고", place="부산신항")


async def _ask(page: Page, text: str) -> None:
    await page.fill("#message", text)
    await page.press("#message", "Enter")


async def test_guest_gets_streams_buttons_and_cards(detail_links: None, nomenclature: None, offline: None,
                                                    asgi_server: str, page: Page, js_errors: list[str]) -> None:
    await run_db(_shipment)
    await page.goto(f"{asgi_server}/customs/")
    await expect(page.locator("#ai-disclosure")).to_contain_text("인공지능(AI)")
    await expect(page.locator("#guest-note")).to_be_visible()

    # A streamed answer (the offline responder), with its detail buttons.
    await _ask(page, "FTA 원산지 증명은 어떻게 하나요?")
    answer = page.locator(".msg.assistant").last
    await expect(page.locator("#status")).to_have_text("완료")
    await expect(answer).to_have_attribute("data-state", "done")
    await expect(answer.locator(".text")).to_contain_text("원산지 기준")
    buttons = answer.locator(".detail-buttons a")
    await expect(buttons.first).to_be_visible()
    assert "FTA 포털" in await buttons.all_inner_texts()
    assert await buttons.first.get_attribute("href") == "https://www.customs.go.kr/ftaportalkor/main.do"
    session_uuid = await page.locator("#app").get_attribute("data-session-uuid")
    assert session_uuid
    reply = await Message.objects.filter(session__key=session_uuid, role=Role.ASSISTANT).alast()
    assert reply is not None and reply.status == MessageStatus.COMPLETE
    assert await answer.locator(".text").inner_text() == reply.content.replace("\n\n", "\n\n")

    # A cargo number: a JSON answer as a card, then the tracking itself.
    await _ask(page, "CSQU3054383 통관 어디까지 됐나요?")
    card = page.locator("[data-testid=cargo-card]").last
    await expect(card).to_contain_text("CSQU3054383")
    await expect(card.locator(".badge")).to_have_text("컨테이너")
    await expect(card).to_contain_text("95%")
    await card.locator("button.track").click()
    await expect(card.locator(".tracking")).to_contain_text("반입완료")
    await expect(card.locator(".tracking")).to_contain_text("부산신항")

    # HS classification: stage by stage on the same session.
    await _ask(page, "스마트폰 HS코드 알려줘")
    hs = page.locator("[data-testid=hs-card]").last
    # The first HS question of a process builds its retrieval index (seconds on a slow machine).
    await expect(hs).to_be_visible(timeout=60_000)
    if await hs.get_attribute("data-stage") == "information_gathering":
        await expect(hs.locator(".stage")).to_have_text("정보 수집")
        await _ask(page, "터치스크린이 있는 휴대용 무선 전화기입니다")
        hs = page.locator("[data-testid=hs-card]").nth(1)
    await expect(hs).to_have_attribute("data-stage", "classification")
    await expect(hs.locator(".stage")).to_have_text("분류")
    await expect(hs.locator(".hscode")).to_have_text(re.compile(r"^\d{4}\.\d{2}\.\d{4}$"))
    await expect(hs).to_contain_text("통칙(GRI)")
    await expect(hs).to_contain_text("분류 근거")
    await expect(hs.locator(".alternatives li").first).to_have_text(re.compile(r"^\d{4}\.\d{2}\.\d{4}$"))
    await _ask(page, "맞는지 확인해 주세요")
    verified = page.locator("[data-testid=hs-card][data-stage=verification]")
    await expect(verified).to_contain_text("검증을 마쳤습니다.")
    assert await page.locator("#app").get_attribute("data-session-uuid") == session_uuid
    if os.environ.get("PAGE_SCREENSHOT"):
        await page.screenshot(path=os.environ["PAGE_SCREENSHOT"], full_page=True)
    session = await ChatSession.objects.aget(key=session_uuid)
    assert session.user_id is None
    assert js_errors == []


async def test_signed_in_user_and_a_broken_stream(fake_llm: FakeOpenAI, asgi_server: str, make_user: Any,
                                                  page: Page, js_errors: list[str]) -> None:
    owner = await run_db(make_user, "trader")
    await page.goto(f"{asgi_server}/accounts/login/?next=/customs/")
    await page.fill("#id_username", "trader")
    await page.fill("#id_password", PASSWORD)
    await page.click("#login-submit")
    await page.wait_for_url(f"{asgi_server}/customs/")
    assert await page.locator("#guest-note").count() == 0

    fake_llm.route("[끊김]", Behaviour(reply="수입신고는 보세구역 반입 뒤에 합니다. " * 5, fault="drop", fault_after=4))
    await _ask(page, "[끊김] 수입신고 절차")
    answer = page.locator(".msg.assistant").last
    await expect(answer).to_have_attribute("data-state", "error")
    await expect(answer).to_contain_text("응답 처리 중 오류가 발생했습니다.")
    await expect(page.locator("#status")).to_have_attribute("data-state", "error")

    fake_llm.route("[끊김]", Behaviour(reply="다시 안내해 드릴게요.", ttft=0.5))
    await _ask(page, "[끊김] 다시 알려주세요")
    # No new chat while an answer is on its way (its late answer would land in the new one).
    await expect(page.locator("#new-chat")).to_be_disabled()
    await expect(page.locator(".msg.assistant").last.locator(".text")).to_have_text("다시 안내해 드릴게요.")
    await expect(page.locator("#new-chat")).to_be_enabled()
    await expect(page.locator("#status")).to_have_text("완료")
    key = await page.locator("#app").get_attribute("data-session-uuid")
    session = await ChatSession.objects.aget(key=key)
    assert session.user_id == owner.pk
    assert js_errors == []
