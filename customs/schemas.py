"""Request bodies and the LLM's intent JSON, validated by pydantic."""

from __future__ import annotations

from typing import Any, Literal
from uuid import UUID

from django.conf import settings
from pydantic import BaseModel, ConfigDict, Field, StrictStr, field_validator

IntentName = Literal["cargo_tracking", "hscode_classification", "general_chat", "news_inquiry",
                     "regulatory_inquiry"]


class ChatIn(BaseModel):
    message: StrictStr
    session_uuid: UUID | None = None
    # The same id again on the session is a retry: the stored answer comes back (platform.md).
    client_msg_id: StrictStr | None = Field(default=None, min_length=1, max_length=64)
    # Sent by the seed's frontend; identity comes from authentication only.
    user_id: int | str | None = None

    @field_validator("message")
    @classmethod
    def _message_length(cls, value: str) -> str:
        value = value.strip()
        if not value:
            raise ValueError("메시지를 입력해 주세요.")
        limit = settings.CUSTOMS_MESSAGE_MAX_CHARS
        if len(value) > limit:
            raise ValueError(f"메시지는 {limit}자까지 보낼 수 있습니다. (현재 {len(value)}자)")
        return value


class IntentEntities(BaseModel):
    """What the classifier may extract; other keys are dropped, wrong types rejected."""

    model_config = ConfigDict(extra="ignore")

    cargo_numbers: list[StrictStr] = Field(default_factory=list, max_length=10)
    product: StrictStr | None = Field(default=None, max_length=200)
    hs_code: StrictStr | None = Field(default=None, max_length=20)
    country: StrictStr | None = Field(default=None, max_length=100)
    topic: StrictStr | None = Field(default=None, max_length=200)

    def as_dict(self) -> dict[str, Any]:
        return self.model_dump(exclude_none=True, exclude_defaults=True)


class IntentOut(BaseModel):
    """What the classifier LLM must answer: exactly these three fields."""

    model_config = ConfigDict(extra="forbid")

    intent_type: IntentName
    confidence_score: float = Field(ge=0.0, le=1.0)
    entities: IntentEntities = Field(default_factory=IntentEntities)
