"""Customs test helpers: a real HTTP client against the live server, and an SSE reader."""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2
import pytest

from customs.intent import intent_cache


@dataclass
class SSE:
    event: str
    data: dict[str, Any]


def parse_sse(raw: str) -> list[SSE]:
    events = []
    for block in raw.replace("\r\n", "\n").split("\n\n"):
        name, data = "", []
        for line in block.split("\n"):
            if line.startswith("event:"):
                name = line[6:].strip()
            elif line.startswith("data:"):
                data.append(line[5:].lstrip())
        if name or data:
            events.append(SSE(name, json.loads("\n".join(data))))
    return events


@pytest.fixture(autouse=True)
def _fresh_intent_cache() -> None:
    intent_cache.clear()


@pytest.fixture
def detail_links(transactional_db: None) -> None:
    """The migration's default detail links (a transactional test's flush removes them)."""
    from importlib import import_module

    from django.apps import apps

    import_module("customs.migrations.0002_default_detail_links").add_links(apps, None)


HS_DATA = Path("/work/shared/data/hs")


@pytest.fixture
def nomenclature(transactional_db: None) -> None:
    """The HS nomenclature (English and Korean titles) from the shared data folder."""
    from django.core.management import call_command

    data = Path(os.environ.get("HS_DATA_DIR", HS_DATA))
    if not (data / "harmonized-system.csv").exists():
        pytest.skip(f"no HS data at {data}")
    call_command("load_hscodes", file=data / "harmonized-system.csv", hs4_ko=data / "hs4_ko.csv",
                 hs6_ko=data / "hs6_ko.csv", verbosity=0)


@pytest.fixture
def offline(fake_llm: Any, settings: Any) -> None:
    """List before ``asgi_server``: the server then runs without an LLM (rules, offline responder)."""
    settings.LLM_BASE_URL = ""


@pytest.fixture
async def http(asgi_server: str) -> AsyncIterator[httpx2.AsyncClient]:
    async with httpx2.AsyncClient(base_url=asgi_server, timeout=10, trust_env=False) as client:
        yield client


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
