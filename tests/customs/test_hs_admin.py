"""HS results and the nomenclature in the staff admin."""

from __future__ import annotations

from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.urls import reverse

from conversations.models import ChatSession, TranscriptAccess
from customs.hs.models import HSClassification
from customs.hs.services import hs_classification_turn

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def results(hs_loaded: Any, customs_session: ChatSession) -> ChatSession:
    for text in ("스마트폰 케이스 HS코드 알려줘", "실리콘과 플라스틱으로 만든 휴대폰 보호용 케이스입니다", "맞나요?"):
        async_to_sync(hs_classification_turn)(session=customs_session, message=text, user_id=None)
    return customs_session


def test_results_are_listed_and_filtered_by_stage_and_code(admin_client: Any, results: ChatSession) -> None:
    url = reverse("admin:hs_hsclassification_changelist")
    page = admin_client.get(url)
    assert page.status_code == 200
    assert page.content.decode().count(results.key) == 3
    classified = admin_client.get(url, {"stage__exact": "classification"})
    assert classified.context["cl"].result_count == 1
    code = HSClassification.objects.get(stage="classification").hscode
    by_chapter = admin_client.get(url, {"chapter": code[:2]})
    assert by_chapter.context["cl"].result_count == 2  # the classification and its verification
    assert admin_client.get(url, {"q": code}).context["cl"].result_count == 2
    detail = admin_client.get(reverse("admin:hs_hsclassification_change",
                                      args=[HSClassification.objects.get(stage="classification").pk]))
    assert detail.status_code == 200 and "gri_application" in detail.content.decode()
    # The list and the result page show the user's description and the answer: both are logged.
    kinds = list(TranscriptAccess.objects.filter(session=results).values_list("kind", flat=True))
    assert kinds.count("preview") == 4 and kinds.count("view") == 1  # four list pages, one result page
    # What a user was told is a record: not even a superuser deletes it here.
    result = HSClassification.objects.get(stage="classification")
    assert admin_client.get(reverse("admin:hs_hsclassification_delete", args=[result.pk])).status_code == 403
    assert "delete_selected" not in page.content.decode()


def test_an_admin_edit_of_a_title_moves_the_data_version(admin_client: Any, hs_loaded: Any) -> None:
    from customs.hs.models import HSCode
    from customs.hs.selectors import data_version

    before = data_version()
    code = HSCode.objects.get(code="8518")
    page = admin_client.get(reverse("admin:hs_hscode_change", args=[code.pk]))
    assert page.status_code == 200
    form = page.context["adminform"].form
    data = {name: form.initial.get(name) or "" for name in form.fields}
    data.update(title_ko="헤드폰과 이어폰", section=code.section_id)
    response = admin_client.post(reverse("admin:hs_hscode_change", args=[code.pk]), data)
    assert response.status_code == 302, response.content[:500]
    assert HSCode.objects.get(code="8518").title_ko == "헤드폰과 이어폰"
    assert data_version() != before
