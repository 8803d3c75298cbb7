"""A crisis in the real browser: the user's page answers at once, and the counselor's admin
shows the banner and the screening queue with the urgent decision first."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth import get_user_model

from conversations.aio import run_db
from conversations.models import ChatSession, Message, Role, ScreeningDecision
from conversations.safety import CRISIS_REPLY, Assessment, Level
from conversations.screening import screening_record
from conversations.testing.fake_openai import FakeOpenAI
from tests.counseling.test_page import PASSWORD, Page, _log_in, _start, chromium, expect, js_errors, page

pytest_plugins = ["tests.live_server"]
pytestmark = [pytest.mark.usefixtures("chromium"), pytest.mark.django_db(transaction=True)]
__all__ = ["chromium", "js_errors", "page"]  # fixtures, used by name


def _later_passive_decision(owner: Any) -> None:
    session = ChatSession.objects.create(key="sess_later_passive", product="counseling", user=owner)
    message = Message.objects.create(session=session, role=Role.USER, text="요즘 그냥 사라지고 싶어요")
    screening_record(session=session, message=message, assessment=Assessment(level=Level.PASSIVE))


async def test_urgent_statement_reaches_the_counselors_queue_first(
    fake_llm: FakeOpenAI, asgi_server: str, make_user: Any, page: Page, js_errors: list[str]
) -> None:
    owner = await run_db(make_user, "crisis-page-user")
    await run_db(get_user_model().objects.create_superuser, "counselor", "c@example.org", PASSWORD)
    await _log_in(page, asgi_server, "crisis-page-user")
    await _start(page)
    await page.fill("#message", "수면제를 30알 정도 모았어요")
    await page.click("#send")
    await expect(page.locator(".msg.assistant .text").last).to_have_text(CRISIS_REPLY)
    assert fake_llm.requests == []
    # A less urgent decision written afterwards must still sort below it.
    await run_db(_later_passive_decision, owner)

    await page.context.clear_cookies()
    await page.goto(f"{asgi_server}/admin/login/?next=/admin/")
    await page.fill("#id_username", "counselor")
    await page.fill("#id_password", PASSWORD)
    await page.click("input[type=submit]")
    banner = page.locator("#crisis-banner")
    await expect(banner).to_contain_text("긴급 위기 신호 1건")
    await banner.locator("a").click()
    levels = page.locator("#result_list .crisis-level")
    await expect(levels).to_have_count(2)
    assert [await levels.nth(i).get_attribute("data-level") for i in range(2)] == ["preparation", "passive"]
    await expect(page.locator("#result_list tbody tr").first).to_contain_text("준비 행동")
    assert await ScreeningDecision.objects.filter(urgent=True).acount() == 1
    assert js_errors == []
