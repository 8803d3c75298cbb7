"""MAICE fixtures: the fake upstream's routes per agent step, agent worker processes, a
live server, and an SSE client that reads ``id:``/``data:`` events."""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx2
import pytest
from django.conf import settings as django_settings
from django.db import connection

from conversations.testing.fake_openai import Behaviour, FakeOpenAI
from tests.live_server import HOST, LiveAsgiServer

ROOT = Path(__file__).resolve().parents[2]

# Text that only one step's prompt contains (maice/prompts.py), for fake.route().
CLASSIFY = "MAICE 분류기"
CLARIFY = "명료화 질문을 1~3개"
IMPROVE = "needs_more를 true로"
ANSWER = "스스로 확인해 볼 질문을 하나"
UNANSWERABLE = "두세 문장으로 정중하게"
SUMMARIZE = "학습 기록을 정리하는 MAICE"

ANSWER_TEXT = (
    "이차함수 $y = ax^2 + bx + c$ 의 그래프는 다음 순서로 그립니다. "
    "먼저 완전제곱식으로 바꿔 $$y = a(x-p)^2 + q$$ 꼴을 만들면 꼭짓점 $(p, q)$ 가 보입니다. "
    "다음으로 $a$ 의 부호로 볼록한 방향을 정하고, $y$ 절편 $(0, c)$ 를 찍습니다. "
    "코드로 확인하려면 `y = a*(x-p)**2 + q` 처럼 계산해 보세요. "
    "마지막으로 대칭축 $x = p$ 를 기준으로 좌우가 같도록 곡선을 이어 그리면 완성입니다. "
    "스스로 확인해 볼까요? $y = x^2 - 4x + 3$ 의 꼭짓점은 어디일까요?"
)


def classification(code: str = "K3", quality: str = "answerable") -> str:
    return json.dumps({"knowledge_code": code, "quality": quality, "unit_tags": ["이차함수", "그래프"],
                       "reasoning": "이차함수 그래프 그리기 방법에 대한 절차적 질문"}, ensure_ascii=False)


SUMMARY_JSON = json.dumps({"summary": "이차함수 그래프를 표준형으로 그리는 방법 학습", "title": "이차함수 그래프",
                           "key_concepts": ["꼭짓점", "대칭축"]}, ensure_ascii=False)


def route_steps(fake: FakeOpenAI, *, answer: Behaviour | None = None, classify: str | None = None) -> None:
    """Answer every step the way a good model would (tests add their own routes first)."""
    fake.route(CLASSIFY, Behaviour(reply=classify or classification(), chunk_size=50))
    fake.route(CLARIFY, Behaviour(reply=json.dumps({"questions": ["어떤 이차함수의 그래프인가요?",
                                                                  "어느 부분이 어려운가요?"]}, ensure_ascii=False),
                                  chunk_size=50))
    fake.route(IMPROVE, Behaviour(reply=json.dumps({"improved_question": "표준형 이차함수 그래프를 그리는 단계별 방법",
                                                    "needs_more": False}, ensure_ascii=False), chunk_size=50))
    fake.route(SUMMARIZE, Behaviour(reply=SUMMARY_JSON, chunk_size=50))
    fake.route(UNANSWERABLE, Behaviour(reply="죄송하지만 이 질문은 수학 학습 질문이 아니라서 도와드리기 어려워요. "
                                             "대신 방정식이나 함수에 대해 궁금한 점을 물어봐 주세요.", chunk_size=7))
    fake.route(ANSWER, answer or Behaviour(reply=ANSWER_TEXT, chunk_size=7, delay=0.002))


# --- SSE client ----------------------------------------------------------------------------


@dataclass
class SSE:
    id: str | None
    data: dict[str, Any]

    @property
    def type(self) -> str:
        return str(self.data.get("type"))


@dataclass
class Stream:
    response: httpx2.Response
    comments: list[str] = field(default_factory=list)
    raw: list[str] = field(default_factory=list)
    _lines: AsyncIterator[str] | None = None

    async def events(self) -> AsyncIterator[SSE]:
        """The events from where the last call stopped reading."""
        if self._lines is None:
            self._lines = self.response.aiter_lines()
        event_id: str | None = None
        data: list[str] = []
        async for line in self._lines:
            self.raw.append(line)
            if line == "":
                if data:
                    yield SSE(event_id, json.loads("\n".join(data)))
                event_id, data = None, []
            elif line.startswith(":"):
                self.comments.append(line[1:].strip())
            elif line.startswith("id: "):
                event_id = line[4:]
            elif line.startswith("data: "):
                data.append(line[6:])

    async def all(self) -> list[SSE]:
        return [event async for event in self.events()]


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", "Accept": "text/event-stream"}


# --- agents and server ---------------------------------------------------------------------


def _database_url() -> str:
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    user, host, port = db.get("USER") or "postgres", db.get("HOST") or "127.0.0.1", db.get("PORT") or 5432
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    return f"postgres://{user}{password}@{host}:{port}/{db['NAME']}"


class Agents:
    """Real ``manage.py run_maice_agent`` processes on the test database and Redis."""

    def __init__(self, settings: Any, fake: FakeOpenAI) -> None:
        self.env = {
            **os.environ,
            "DATABASE_URL": _database_url(),
            "REDIS_URL": settings.REDIS_URL,
            "LLM_BASE_URL": fake.base_url,
            "LLM_API_KEY": "test-key",
            "LLM_MAX_RETRIES": "0",
            "LLM_READ_TIMEOUT": "5",
            "MAICE_REDIS_PREFIX": settings.MAICE_REDIS_PREFIX,
            "MAICE_AGENT_CLAIM_IDLE_MS": str(settings.MAICE_AGENT_CLAIM_IDLE_MS),
            "CACHE_KEY_PREFIX": "chat",
            "LOG_LEVEL": "INFO",
            "DATABASE_POOL_MAX": "4",
            "LLM_MODERATION": "1" if settings.LLM_MODERATION else "0",
            "LLM_MODERATION_MODEL": settings.LLM_MODERATION_MODEL,
        }
        self.env.pop("DJANGO_SETTINGS_MODULE", None)
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self, name: str | None = None) -> subprocess.Popen[bytes]:
        name = name or f"agent-{len(self.procs)}"
        proc = subprocess.Popen([sys.executable, "manage.py", "run_maice_agent", "--name", name], cwd=ROOT,
                                env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.procs.append(proc)
        return proc

    def wait_ready(self, count: int, timeout: float = 20.0) -> None:
        import redis

        client = redis.Redis.from_url(self.env["REDIS_URL"])
        key = f"{self.env['MAICE_REDIS_PREFIX']}:agents"
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                if client.zcount(key, time.time() - 5, "+inf") >= count:
                    return
                for proc in self.procs:
                    if proc.poll() is not None:
                        raise RuntimeError(f"agent exited: {proc.stderr.read().decode()[-2000:] if proc.stderr else ''}")
                time.sleep(0.1)
        finally:
            client.close()
        raise RuntimeError("agents did not start")

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@pytest.fixture
def maice_settings(settings: Any) -> Any:
    """Settings the server and agents must see (set before they start)."""
    settings.MAICE_REDIS_PREFIX = f"maice-test-{secrets.token_hex(4)}"
    settings.MAICE_AGENT_CLAIM_IDLE_MS = 1000
    settings.MAICE_DISCONNECT_GRACE_MS = 200
    return settings


@pytest.fixture
def agents(transactional_db: None, maice_settings: Any, fake_llm: FakeOpenAI) -> Iterator[Agents]:
    if not django_settings.REDIS_URL:
        pytest.skip("needs REDIS_URL (agent workers on Redis Streams)")
    group = Agents(maice_settings, fake_llm)
    try:
        yield group
    finally:
        group.stop()


@pytest.fixture
def maice_server(transactional_db: None, maice_settings: Any, fake_llm: FakeOpenAI) -> Iterator[str]:
    """A live server; with REDIS_URL one agent worker beside it (the production shape)."""
    if HOST not in maice_settings.ALLOWED_HOSTS:
        maice_settings.ALLOWED_HOSTS = [*maice_settings.ALLOWED_HOSTS, HOST]
    group = None
    if django_settings.REDIS_URL:
        group = Agents(maice_settings, fake_llm)
        group.start()
        group.wait_ready(1)
    try:
        with LiveAsgiServer() as server:
            yield server.url
    finally:
        if group is not None:
            group.stop()


@pytest.fixture
def bare_server(transactional_db: None, maice_settings: Any, fake_llm: FakeOpenAI) -> Iterator[str]:
    """A live server and no agent process at all."""
    if HOST not in maice_settings.ALLOWED_HOSTS:
        maice_settings.ALLOWED_HOSTS = [*maice_settings.ALLOWED_HOSTS, HOST]
    with LiveAsgiServer() as server:
        yield server.url


@pytest.fixture
def offline_server(transactional_db: None, maice_settings: Any) -> Iterator[str]:
    """A live server with no LLM configured: the offline tutor answers (embedded only)."""
    if django_settings.REDIS_URL:
        pytest.skip("the offline path is checked on the embedded default")
    maice_settings.LLM_BASE_URL = ""
    maice_settings.OFFLINE_LLM_TOKEN_DELAY_MS = 0
    if HOST not in maice_settings.ALLOWED_HOSTS:
        maice_settings.ALLOWED_HOSTS = [*maice_settings.ALLOWED_HOSTS, HOST]
    with LiveAsgiServer() as server:
        yield server.url
