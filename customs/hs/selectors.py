"""Reads of the HS classification: the data version, the index's source rows, message texts."""

from __future__ import annotations

from dataclasses import dataclass

from conversations.models import ChatSession, Message
from customs.hs.models import HSCode, HSDataVersion, HSProductExample, Level
from customs.hs.retrieval import Entry, Example


def data_version() -> str:
    """"" until something was loaded."""
    return HSDataVersion.objects.filter(pk=1).values_list("stamp", flat=True).first() or ""


@dataclass(frozen=True)
class IndexSource:
    version: str
    headings: list[Entry]
    subheadings: list[Entry]
    examples: list[Example]


def index_source() -> IndexSource:
    """Everything the retrieval index is built from. The stamp is read first: data newer
    than its stamp only causes one more rebuild later, never a stale index kept."""
    version = data_version()
    headings: list[Entry] = []
    subheadings: list[Entry] = []
    rows = HSCode.objects.filter(level__in=(Level.HEADING, Level.SUBHEADING)).values_list(
        "code", "level", "title_en", "title_ko")
    for code, level, title_en, title_ko in rows.iterator(chunk_size=2000):
        (headings if level == Level.HEADING else subheadings).append(Entry(code, title_en, title_ko))
    examples = [Example(name, code) for name, code in
                HSProductExample.objects.values_list("name", "hsk_code").iterator(chunk_size=2000)]
    return IndexSource(version=version, headings=headings, subheadings=subheadings, examples=examples)


def message_texts(*, session: ChatSession, ids: list[int]) -> list[str]:
    """The texts of the session's messages ``ids``, in that order (decrypted); a message a
    moderator hid is left out of the classifier's context."""
    texts = dict(Message.objects.filter(session=session, pk__in=ids, hidden=False).values_list("pk", "text"))
    return [texts[i] for i in ids if texts.get(i)]

