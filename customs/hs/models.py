"""The HS nomenclature (sections, chapters, headings, subheadings), the Korean product
examples with their decided codes, and each classification answered on a session.

Nomenclature entries of every level live in one table keyed by their code: the loader
upserts all of them in bulk and the retrieval index reads them in one query.
"""

from __future__ import annotations

from django.db import models
from encrypted_fields.fields import EncryptedTextField

from conversations.fields import EncryptedJSONText
from conversations.models import ChatSession, Message


class Level(models.IntegerChoices):
    CHAPTER = 2, "류 (2단위)"
    HEADING = 4, "호 (4단위)"
    SUBHEADING = 6, "소호 (6단위)"


class Stage(models.TextChoices):
    INFORMATION_GATHERING = "information_gathering", "정보 수집"
    CLASSIFICATION = "classification", "분류"
    VERIFICATION = "verification", "검증"


class HSSection(models.Model):
    roman = models.CharField(max_length=8, unique=True)
    title_en = models.TextField()
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        verbose_name = "부"
        verbose_name_plural = "부"
        ordering = ["position"]

    def __str__(self) -> str:
        return f"제{self.roman}부 {self.title_en[:60]}"


class HSCode(models.Model):
    code = models.CharField(max_length=6, unique=True)
    level = models.PositiveSmallIntegerField(choices=Level.choices, db_index=True)
    section = models.ForeignKey(HSSection, to_field="roman", on_delete=models.PROTECT, related_name="codes",
                                null=True, blank=True, db_constraint=False)
    # The parent's code ("" for chapters): kept as text so one bulk upsert loads all levels.
    parent_code = models.CharField(max_length=6, blank=True, db_index=True)
    title_en = models.TextField()
    title_ko = models.TextField(blank=True)

    class Meta:
        verbose_name = "HS 부호"
        verbose_name_plural = "HS 부호"
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.code} {self.title_ko or self.title_en}"[:90]


class HSProductExample(models.Model):
    """A published Korea Customs classification: a product name and its 10-digit HSK code."""

    name = models.TextField()
    hsk_code = models.CharField(max_length=10, db_index=True)
    subheading = models.ForeignKey(HSCode, on_delete=models.CASCADE, related_name="examples",
                                   limit_choices_to={"level": Level.SUBHEADING})
    # sha256 of name + code: the idempotency key (names are too long for a portable unique index).
    digest = models.CharField(max_length=64, unique=True)

    class Meta:
        verbose_name = "품목분류 사례"
        verbose_name_plural = "품목분류 사례"
        ordering = ["hsk_code", "id"]

    def __str__(self) -> str:
        return f"{self.hsk_code} {self.name[:60]}"


class HSDataVersion(models.Model):
    """One row: a new random stamp whenever the nomenclature or the examples change, so
    every process rebuilds its retrieval index on its next classification. Random, not a
    counter: a database emptied and loaded again must not repeat an old stamp."""

    stamp = models.CharField(max_length=32)
    changed_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "HS 데이터 버전"
        verbose_name_plural = "HS 데이터 버전"

    def __str__(self) -> str:
        return self.stamp


class HSClassification(models.Model):
    """One answer of the staged HS classification, kept for review."""

    session = models.ForeignKey(ChatSession, on_delete=models.CASCADE, related_name="hs_results")
    message = models.ForeignKey(Message, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    stage = models.CharField(max_length=24, choices=Stage.choices, db_index=True)
    response_type = models.CharField(max_length=24)
    hscode = models.CharField(max_length=12, blank=True, db_index=True)
    confidence = models.FloatField(null=True, blank=True)
    model = models.CharField(max_length=100, blank=True)
    # The product description the answer was computed from (user text: encrypted at
    # rest like messages) and the whole JSON body returned.
    description = EncryptedTextField(null=True, blank=True)
    body = EncryptedJSONText(default=dict)
    processing_time_ms = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = "HS 분류 결과"
        verbose_name_plural = "HS 분류 결과"
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.session_id} {self.stage} {self.hscode}"
