"""What the HS stages read back of the conversation."""

from __future__ import annotations

from typing import Any

import pytest

from conversations.models import ChatSession, Role
from conversations.moderation import message_hide
from conversations.services import message_append
from customs.hs.selectors import message_texts

pytestmark = pytest.mark.django_db


def test_a_message_a_moderator_hid_is_left_out_of_the_classifiers_context(
        customs_session: ChatSession, make_user: Any) -> None:
    first = message_append(session=customs_session, role=Role.USER, text="스마트폰 케이스 HS코드 알려줘")
    second = message_append(session=customs_session, role=Role.USER, text="실리콘으로 만든 휴대폰 케이스")
    assert message_texts(session=customs_session, ids=[first.pk, second.pk]) == [first.text, second.text]
    message_hide(message=first, actor=make_user("moderator", is_staff=True))
    assert message_texts(session=customs_session, ids=[first.pk, second.pk]) == [second.text]
