from __future__ import annotations

from ninja import Field, Schema


class SessionStartIn(Schema):
    counselorId: str | None = Field(default=None, max_length=64)  # noqa: N815 - frontend's field name
