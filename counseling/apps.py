from __future__ import annotations

from django.apps import AppConfig


class CounselingConfig(AppConfig):
    name = "counseling"
    verbose_name = "AI 음성 상담"

    def ready(self) -> None:
        from conversations.llm import register_responder
        from counseling.offline import counseling_reply

        register_responder("counseling", counseling_reply)
