"""The admin banner: urgent screening decisions nobody has reviewed yet."""

from __future__ import annotations

from typing import Any

from django import template
from django.urls import reverse

from conversations.models import ScreeningDecision

register = template.Library()


@register.inclusion_tag("admin/conversations/_crisis_banner.html", takes_context=True)
def crisis_banner(context: dict[str, Any]) -> dict[str, Any]:
    request = context.get("request")
    user = getattr(request, "user", None)
    if user is None or not user.is_active or not user.has_perm("conversations.view_screeningdecision"):
        return {"count": 0}
    count = ScreeningDecision.objects.filter(urgent=True, reviewed_at__isnull=True).count()
    url = reverse("admin:conversations_screeningdecision_changelist")
    return {"count": count, "url": url}
