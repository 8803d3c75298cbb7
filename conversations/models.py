"""The shared chat domain: sessions, messages, tokens and the moderation record.

Each product owns its sessions through ``ChatSession.product`` and keeps product
specific state (MAICE clarification rounds, customs HS stages) in ``state``, so new
products plug in without changing these tables.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from encrypted_fields.fields import EncryptedTextField

from conversations.fields import EncryptedShortText


class Product(models.TextChoices):
    COUNSELING = "counseling", "상담"
    MAICE = "maice", "MAICE"
    CUSTOMS = "customs", "관세"


class SessionStatus(models.TextChoices):
    ACTIVE = "active", "진행 중"
    PAUSED = "paused", "일시정지"
    ENDED = "ended", "종료"


class ReviewState(models.TextChoices):
    UNREVIEWED = "unreviewed", "검토 전"
    REVIEWED = "reviewed", "검토 완료"


class Role(models.TextChoices):
    USER = "user", "사용자"
    ASSISTANT = "assistant", "AI"


class MessageStatus(models.TextChoices):
    STREAMING = "streaming", "생성 중"
    COMPLETE = "complete", "완료"
    INTERRUPTED = "interrupted", "중단됨"
    FAILED = "failed", "실패"
    BLOCKED = "blocked", "차단됨"


class Flag(models.TextChoices):
    CRISIS = "crisis", "위기 신호"
    INPUT_FILTERED = "input_filtered", "입력 필터"
    OUTPUT_BLOCKED = "output_blocked", "출력 차단"


class ChatSession(models.Model):
    # Public identifier: "sess_…" for counseling, a UUID for customs; MAICE uses `id`.
    key = models.CharField(max_length=64, unique=True)
    product = models.CharField(max_length=16, choices=Product.choices, db_index=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="chat_sessions", null=True, blank=True
    )
    title = EncryptedShortText(max_length=100, blank=True)  # MAICE's are written from the student's question
    status = models.CharField(max_length=8, choices=SessionStatus.choices, default=SessionStatus.ACTIVE)
    counselor_id = models.CharField(max_length=64, blank=True)
    state = models.JSONField(default=dict, blank=True)
    started_at = models.DateTimeField(auto_now_add=True, db_index=True)
    paused_at = models.DateTimeField(null=True, blank=True)
    resumed_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    last_activity_at = models.DateTimeField(auto_now=True)
    flagged = models.BooleanField(default=False, db_index=True)
    review_state = models.CharField(
        max_length=16, choices=ReviewState.choices, default=ReviewState.UNREVIEWED, db_index=True
    )
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)
    # A guest's session (no user): a keyed hash of the client address, never the address,
    # so that alerts on one guest coalesce across the new sessions they may open per message.
    # The database's own default too: code from before the column (a rolling deploy) still inserts.
    guest_key = models.CharField(max_length=32, blank=True, default="", db_default="", db_index=True)

    class Meta:
        verbose_name = "대화 세션"
        verbose_name_plural = "대화 세션"
        ordering = ["-started_at"]
        indexes = [models.Index(fields=["user", "product", "-started_at"])]

    def __str__(self) -> str:
        return self.key


class Message(models.Model):
    # Indexed by ``message_session_order``, whose first column it is.
    session = models.ForeignKey(ChatSession, on_delete=models.CASCADE, related_name="messages", db_index=False)
    role = models.CharField(max_length=16, choices=Role.choices)
    # NULL stands for empty text: the encrypted field stores "" as NULL.
    text = EncryptedTextField(null=True, blank=True)
    # What the model wrote when output screening blocked it, kept for reviewers only.
    blocked_text = EncryptedTextField(null=True, blank=True)
    status = models.CharField(max_length=16, choices=MessageStatus.choices, default=MessageStatus.COMPLETE)
    reply_to = models.OneToOneField(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="reply"
    )
    client_msg_id = models.CharField(max_length=64, null=True, blank=True)
    client_timestamp = models.BigIntegerField(null=True, blank=True)
    emotion = models.CharField(max_length=16, null=True, blank=True)
    flags = models.JSONField(default=list, blank=True)
    flagged = models.BooleanField(default=False, db_index=True)
    flag_detail = models.CharField(max_length=200, blank=True)
    error_code = models.CharField(max_length=32, blank=True)
    model = models.CharField(max_length=100, blank=True)
    prompt_tokens = models.PositiveIntegerField(null=True, blank=True)
    completion_tokens = models.PositiveIntegerField(null=True, blank=True)
    ttfc_ms = models.PositiveIntegerField(null=True, blank=True)
    total_ms = models.PositiveIntegerField(null=True, blank=True)
    hidden = models.BooleanField(default=False)
    reviewed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "메시지"
        verbose_name_plural = "메시지"
        ordering = ["created_at", "id"]
        # A session's transcript and its last-N history window, read without a sort:
        # both are on every reply's path and sessions can run to hundreds of messages.
        indexes = [models.Index(fields=["session", "created_at", "id"], name="message_session_order")]
        constraints = [
            models.UniqueConstraint(
                fields=["session", "client_msg_id"],
                condition=models.Q(client_msg_id__isnull=False),
                name="message_client_msg_id_unique",
            )
        ]

    def __str__(self) -> str:
        return f"{self.session_id}#{self.pk} {self.role} {self.status}"

    @property
    def content(self) -> str:
        return self.text or ""


class ApiToken(models.Model):
    """A bearer token. Only its SHA-256 digest is stored."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100, blank=True)
    prefix = models.CharField(max_length=12, help_text="The first characters, to tell tokens apart.")
    digest = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "API 토큰"
        verbose_name_plural = "API 토큰"

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.user})"


class ModerationAction(models.Model):
    class Kind(models.TextChoices):
        HIDE = "hide", "숨김"
        UNHIDE = "unhide", "숨김 해제"
        REVIEW_MESSAGE = "review_message", "메시지 검토"
        REVIEW_SESSION = "review_session", "세션 검토 완료"
        NOTE = "note", "상담사 메모"

    kind = models.CharField(max_length=20, choices=Kind.choices)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    # The record outlives what it is about: a purged session leaves its key here.
    session = models.ForeignKey(ChatSession, on_delete=models.SET_NULL, null=True, blank=True,
                                related_name="moderation_actions")
    session_key = models.CharField(max_length=64, blank=True)
    message = models.ForeignKey(Message, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "검토 기록"
        verbose_name_plural = "검토 기록"
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} by {self.actor} at {self.created_at:%Y-%m-%d %H:%M}"


class CounselorNote(models.Model):
    session = models.ForeignKey(ChatSession, on_delete=models.CASCADE, related_name="notes")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    text = EncryptedTextField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "상담사 메모"
        verbose_name_plural = "상담사 메모"
        ordering = ["created_at"]

    def __str__(self) -> str:
        return f"메모 #{self.pk}"


class TranscriptAccess(models.Model):
    """Audit log: one row for every staff view or export of a transcript."""

    class Kind(models.TextChoices):
        VIEW = "view", "열람"
        PREVIEW = "preview", "목록 미리보기"
        EXPORT_JSON = "export_json", "JSON 내보내기"
        EXPORT_CSV = "export_csv", "CSV 내보내기"
        EXPORT_COMMAND = "export_command", "명령어 내보내기"

    staff = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    # Who read a transcript stays known after it is purged: the session's key is kept.
    session = models.ForeignKey(ChatSession, on_delete=models.SET_NULL, null=True, blank=True,
                                related_name="accesses")
    session_key = models.CharField(max_length=64, blank=True)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    ip = models.GenericIPAddressField(null=True, blank=True)
    # A command has no signed-in staff: the login and host it ran under say who it was.
    operator = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = "열람 기록"
        verbose_name_plural = "열람 기록"
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.staff} {self.kind} {self.session_id}"


class ScreeningDecision(models.Model):
    """One crisis-screening decision on a user message: its level, why, and who decided."""

    class Source(models.TextChoices):
        RULES = "rules", "규칙"
        LLM = "llm", "LLM 분류"
        MODERATION = "moderation", "모더레이션"

    session = models.ForeignKey(ChatSession, on_delete=models.CASCADE, related_name="screenings")
    message = models.ForeignKey(Message, on_delete=models.CASCADE, null=True, blank=True, related_name="screenings")
    level = models.CharField(max_length=16)
    # Level.rank, stored so the queue sorts urgent first in SQL.
    rank = models.PositiveSmallIntegerField()
    urgent = models.BooleanField(default=False)
    source = models.CharField(max_length=16, choices=Source.choices, default=Source.RULES)
    evidence = models.CharField(max_length=200, blank=True)  # rule ids or the classifier's reason code
    # Words of the user's message (or the classifier's reason): encrypted like the message.
    matched = EncryptedTextField(null=True, blank=True)
    alerted_at = models.DateTimeField(null=True, blank=True)
    reviewed_at = models.DateTimeField(null=True, blank=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = "위기 선별 기록"
        verbose_name_plural = "위기 선별 기록"
        ordering = ["-rank", "-created_at"]
        indexes = [models.Index(fields=["reviewed_at", "-rank", "-created_at"], name="screening_queue")]

    def __str__(self) -> str:
        return f"{self.level} ({self.source}) {self.session_id}"
