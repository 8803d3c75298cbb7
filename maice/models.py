"""MAICE state on the shared platform's sessions and messages.

A MAICE session is a ``ChatSession`` (product ``maice``) whose integer id is the API's
``session_id``. Every text a student or the tutor wrote is a ``Message`` (encrypted at
rest); these tables add what the agent decided about it: the classification, the
clarification rounds, the answer's type and the summary.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from encrypted_fields.fields import EncryptedTextField

from conversations.fields import EncryptedJSONText, EncryptedShortText
from conversations.models import ChatSession, Message


class Mode(models.TextChoices):
    AGENT = "agent", "에이전트"
    FREEPASS = "freepass", "프리패스"


class KnowledgeCode(models.TextChoices):
    K1 = "K1", "K1 사실적 지식"
    K2 = "K2", "K2 개념적 지식"
    K3 = "K3", "K3 절차적 지식"
    K4 = "K4", "K4 메타인지·문제해결"


class Quality(models.TextChoices):
    ANSWERABLE = "answerable", "답변 가능"
    NEEDS_CLARIFY = "needs_clarify", "명료화 필요"
    UNANSWERABLE = "unanswerable", "답변 불가"


class QuestionStatus(models.TextChoices):
    CLASSIFYING = "classifying", "분류 중"
    CLARIFYING = "clarifying", "명료화 대기"
    ANSWERING = "answering", "답변 중"
    ANSWERED = "answered", "답변 완료"
    FAILED = "failed", "실패"
    CANCELLED = "cancelled", "중단됨"
    SUPERSEDED = "superseded", "새 질문으로 대체"


class MaiceQuestion(models.Model):
    """One question of a student and everything the agent did with it."""

    session = models.ForeignKey(ChatSession, on_delete=models.CASCADE, related_name="maice_questions")
    asked = models.OneToOneField(Message, on_delete=models.CASCADE, related_name="maice_question")
    mode = models.CharField(max_length=8, choices=Mode.choices, db_index=True)
    status = models.CharField(max_length=12, choices=QuestionStatus.choices, default=QuestionStatus.CLASSIFYING)
    knowledge_code = models.CharField(max_length=2, choices=KnowledgeCode.choices, blank=True, db_index=True)
    quality = models.CharField(max_length=16, choices=Quality.choices, blank=True, db_index=True)
    unit_tags = models.JSONField(default=list, blank=True)
    reasoning = EncryptedShortText(max_length=500, blank=True)  # the classifier often restates the question
    # "llm" or "rules": where the classification came from (the fallback is visible to staff).
    classified_by = models.CharField(max_length=8, blank=True)
    improved_question = EncryptedTextField(null=True, blank=True)
    answer = models.OneToOneField(
        Message, on_delete=models.SET_NULL, null=True, blank=True, related_name="maice_answer_of"
    )
    answer_type = models.CharField(max_length=16, blank=True)
    summary = EncryptedTextField(null=True, blank=True)
    title = EncryptedShortText(max_length=15, blank=True)
    key_concepts = EncryptedJSONText(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = "MAICE 질문"
        verbose_name_plural = "MAICE 질문"
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["session", "status"], name="maice_question_session_status")]

    def __str__(self) -> str:
        return f"{self.session_id}#{self.pk} {self.knowledge_code or '-'} {self.status}"

    def classification(self) -> dict[str, object] | None:
        if not self.knowledge_code:
            return None
        return {"knowledge_code": self.knowledge_code, "quality": self.quality, "unit_tags": list(self.unit_tags),
                "reasoning": self.reasoning}


class MaiceClarification(models.Model):
    """One clarification round: the tutor's questions and the student's reply."""

    question = models.ForeignKey(MaiceQuestion, on_delete=models.CASCADE, related_name="clarifications")
    round = models.PositiveSmallIntegerField()
    asked = models.OneToOneField(Message, on_delete=models.CASCADE, related_name="+")
    questions = EncryptedJSONText(default=list)  # the tutor's, often quoting the student
    reply = models.OneToOneField(Message, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "MAICE 명료화"
        verbose_name_plural = "MAICE 명료화"
        ordering = ["round"]
        constraints = [models.UniqueConstraint(fields=["question", "round"], name="maice_clarification_round")]

    def __str__(self) -> str:
        return f"{self.question_id} round {self.round}"


class MaiceRequest(models.Model):
    """One POST /api/maice/chat: its events are the stream ``request_id`` names."""

    request_id = models.CharField(max_length=32, unique=True)
    session = models.ForeignKey(ChatSession, on_delete=models.CASCADE, related_name="maice_requests")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    question = models.ForeignKey(MaiceQuestion, on_delete=models.CASCADE, related_name="requests")
    # The student's message that opened it: a repeated ``client_msg_id`` finds its request.
    asked = models.ForeignKey(Message, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    mode = models.CharField(max_length=8, choices=Mode.choices)
    # "question" (a new question) or "clarification" (the reply to a pending round).
    kind = models.CharField(max_length=16)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # The terminal event's type, or the error code it carried.
    outcome = models.CharField(max_length=32, blank=True)

    class Meta:
        verbose_name = "MAICE 요청"
        verbose_name_plural = "MAICE 요청"
        indexes = [
            models.Index(fields=["user", "-created_at"], name="maice_request_user_latest"),
            models.Index(fields=["session", "finished_at"], name="maice_request_open"),
        ]

    def __str__(self) -> str:
        return self.request_id


class MaiceAssignment(models.Model):
    """A user's study arm when modes are assigned A/B; fixed once stored."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="maice_assignment")
    mode = models.CharField(max_length=8, choices=Mode.choices, db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "MAICE 모드 배정"
        verbose_name_plural = "MAICE 모드 배정"

    def __str__(self) -> str:
        return f"{self.user_id}: {self.mode}"
