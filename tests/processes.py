"""Real production server processes (``manage.py serve``) for tests that kill and restart them.

Unlike ``tests.live_server`` (a forked daphne), these are separate ``manage.py serve``
processes started from the environment: the test database, the test process's secret
key and salts (so both sides read each other's encrypted text) and the fake upstream's
URL are passed in explicitly. Use ``ServeProcess`` as a context manager; ``kill()``
sends SIGKILL, ``terminate()`` SIGTERM, ``start()`` starts it again on the same port.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Self

from django.conf import settings

ROOT = Path(__file__).resolve().parent.parent
STARTUP_TIMEOUT = 30.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def database_url() -> str:
    """The test database as a URL for another process."""
    db = settings.DATABASES["default"]
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}?timeout=20&transaction_mode=IMMEDIATE"
    user, host, port = db.get("USER") or "postgres", db.get("HOST") or "127.0.0.1", db.get("PORT") or 5432
    return f"postgres://{user}@{host}:{port}/{db['NAME']}"


def server_env(**overrides: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key not in {"WEB_CONCURRENCY"}}
    env.update({
        "DJANGO_DEBUG": "1",
        "DJANGO_SECRET_KEY": settings.SECRET_KEY,
        "FIELD_ENCRYPTION_KEYS": ",".join(settings.SALT_KEY),
        "DATABASE_URL": database_url(),
        "LLM_BASE_URL": settings.LLM_BASE_URL,
        "LLM_API_KEY": settings.LLM_API_KEY or "x",
        "LLM_READ_TIMEOUT": str(settings.LLM_READ_TIMEOUT),
        "LLM_MAX_RETRIES": "0",
        "CACHE_KEY_PREFIX": settings.CACHES["default"].get("KEY_PREFIX", "chat"),
        "LOG_LEVEL": "WARNING",
    })  # fmt: skip
    if settings.REDIS_URL:
        env["REDIS_URL"] = settings.REDIS_URL
    else:
        env.pop("REDIS_URL", None)
    env.update(overrides)
    return env


class ServeProcess:
    def __init__(self, *, workers: int = 1, **env: str) -> None:
        self.port = free_port()
        self.workers = workers
        self.env = server_env(**env)
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = tempfile.TemporaryFile()  # a pipe nobody reads would stall a chatty server

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def ws(self, session_key: str, token: str) -> str:
        return f"ws://127.0.0.1:{self.port}/ws/session/{session_key}?token={token}"

    def start(self) -> Self:
        cmd = [sys.executable, "manage.py", "serve", "--port", str(self.port), "--workers", str(self.workers)]
        self.proc = subprocess.Popen(cmd, cwd=ROOT, env=self.env, stdout=self.log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}: {self.output()[-3000:]}")
            try:
                urllib.request.urlopen(f"{self.url}/api/session/x", timeout=1).close()
                return self
            except urllib.error.HTTPError as exc:
                exc.close()
                return self  # any HTTP answer: it serves
            except OSError:
                time.sleep(0.1)
        self.kill()
        raise RuntimeError(f"server did not start: {self.output()[-3000:]}")

    def output(self) -> str:
        self.log.seek(0)
        return self.log.read().decode(errors="replace")

    def kill(self) -> None:
        """SIGKILL to the whole process group: no clean-up code runs anywhere."""
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def terminate(self, timeout: float = 20.0) -> int:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: Any) -> None:
        self.kill()
        self.log.close()
