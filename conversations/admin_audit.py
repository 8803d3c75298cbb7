"""Staff views of users' words outside the transcript page are audit-logged too.

The transcript page and exports write a ``TranscriptAccess`` row each (``admin.py``). The
moderation queue's previews, the crisis queue (previews, matched words) and the HS results
(the product description, the answer) show parts of transcripts as well: a list page writes
one ``preview`` row per session it showed, a detail page one ``view`` row.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from django.contrib.admin.utils import unquote
from django.http import HttpRequest, HttpResponse

from conversations import moderation
from conversations.auth import request_user
from conversations.models import TranscriptAccess


def client_ip(request: HttpRequest) -> str | None:
    value = request.META.get("REMOTE_ADDR", "")
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        return None


class AccessLoggedAdmin:
    """A ModelAdmin mixin (listed first) for models with a ``session`` that show its words."""

    log_detail_views = True
    log_list_views = True  # off where the list shows none of the users' words

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        response = super().changelist_view(request, extra_context)  # type: ignore[misc]
        changelist = (getattr(response, "context_data", None) or {}).get("cl")
        if self.log_list_views and request.method == "GET" and changelist is not None:
            shown = {obj.session_id for obj in changelist.result_list}
            moderation.transcript_accesses_record(session_ids=sorted(shown), kind=TranscriptAccess.Kind.PREVIEW,
                                                  staff=request_user(request), ip=client_ip(request))
        return response

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "",
                    extra_context: dict[str, Any] | None = None) -> HttpResponse:
        response = super().change_view(request, object_id, form_url, extra_context)  # type: ignore[misc]
        if self.log_detail_views and request.method == "GET" and response.status_code == 200:
            obj = self.get_object(request, unquote(object_id))  # type: ignore[attr-defined]
            if obj is not None:
                moderation.transcript_accesses_record(session_ids=[obj.session_id], kind=TranscriptAccess.Kind.VIEW,
                                                      staff=request_user(request), ip=client_ip(request))
        return response
