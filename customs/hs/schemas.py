"""The JSON bodies of the staged HS classification (hard contract: the seed's fields) and
the strict JSON an LLM must answer with."""

from __future__ import annotations

from typing import Literal

from ninja import Schema
from pydantic import Field

SERVICE: Literal["hscode_classification"] = "hscode_classification"


# Fields in the seed's order. processing_time_ms is set last, when the body is done.


class InformationRequest(Schema):
    type: Literal["information_request"] = "information_request"
    service: Literal["hscode_classification"] = SERVICE
    stage: Literal["information_gathering"] = "information_gathering"
    message: str
    next_stage: Literal["classification"] = "classification"
    timestamp: str
    session_uuid: str
    user_id: str | int | None
    processing_time_ms: int = 0


class ClassificationResultData(Schema):
    hscode: str
    confidence_score: float
    classification_reason: str
    gri_application: str
    alternative_codes: list[str]
    verification_sources: list[str]
    recommendations: list[str]
    risk_assessment: str


class ClassificationResult(Schema):
    type: Literal["classification_result"] = "classification_result"
    service: Literal["hscode_classification"] = SERVICE
    stage: Literal["classification"] = "classification"
    result: ClassificationResultData
    next_stage: Literal["verification"] = "verification"
    timestamp: str
    session_uuid: str
    user_id: str | int | None
    processing_time_ms: int = 0


class VerificationResult(Schema):
    type: Literal["verification_result"] = "verification_result"
    service: Literal["hscode_classification"] = SERVICE
    stage: Literal["verification"] = "verification"
    message: str
    completed: Literal[True] = True
    timestamp: str
    session_uuid: str
    user_id: str | int | None
    processing_time_ms: int = 0


class ErrorBody(Schema):
    """The seed's error form, with the envelope every response has (customs.md)."""

    type: Literal["error"] = "error"
    service: Literal["hscode_classification"] = SERVICE
    stage: str
    message: str
    error_detail: str
    timestamp: str
    session_uuid: str
    user_id: str | int | None
    processing_time_ms: int = 0


class LLMChoice(Schema):
    """What the model must answer; anything else is rejected and retrieval answers."""

    hscode: str = Field(min_length=6, max_length=16)
    confidence_score: float = Field(ge=0.0, le=1.0)
    classification_reason: str = Field(min_length=1, max_length=2000)
    gri_application: str = Field(min_length=1, max_length=500)
    alternative_codes: list[str] = Field(default_factory=list, max_length=10)
    recommendations: list[str] = Field(default_factory=list, max_length=10)
    risk_assessment: str = Field(default="", max_length=1000)


class LLMVerdict(Schema):
    """The model's verification of a chosen code against its alternatives."""

    holds: bool
    hscode: str = Field(min_length=6, max_length=16)
    message: str = Field(min_length=1, max_length=2000)
