from __future__ import annotations

from django.urls import path

from counseling.consumers import CounselingConsumer

websocket_urlpatterns = [
    path("ws/session/<str:session_id>", CounselingConsumer.as_asgi()),
]
