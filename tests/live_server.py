"""A real daphne server for end-to-end tests: the project's ASGI app on a loopback port.

The server runs in a forked child process (daphne's own ``DaphneProcess``, as Channels'
``ChannelsLiveServerTestCase`` does), so it inherits the test process's settings as they
are at the moment of the fork: the test database name, the fake upstream's URL, the
chunk pacing. Anything the server must see has to be set before ``asgi_server`` starts;
that is why the fixture depends on ``fake_llm``. Changes made to settings afterwards reach
only the test process. The fake upstream itself lives in the test process, so tests may
queue behaviours and read recorded requests while the server is running.

Register the fixtures with ``pytest_plugins = ["tests.live_server"]``.
"""

from __future__ import annotations

import multiprocessing
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from asgiref.sync import AsyncToSync, SyncToAsync
from daphne.testing import DaphneProcess
from django.db import connections

from conversations.testing.fake_openai import FakeOpenAI

HOST = "127.0.0.1"
STARTUP_TIMEOUT = 15.0


def make_application() -> Any:
    """The ASGI app, built inside the server process (module level so it stays importable)."""
    from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler

    from config.asgi import application

    # Pages need their CSS and JS whatever DEBUG is; the handler only takes /static/ paths,
    # everything else (WebSockets included) goes to the real application.
    return ASGIStaticFilesHandler(application)


class _ForkedDaphneProcess(DaphneProcess):
    # Forking is what carries the test settings and database name into the server, so
    # never let a changed default start method (spawn, forkserver) slip in.
    @staticmethod
    def _Popen(process_obj: Any) -> Any:  # noqa: N802 - multiprocessing's hook name
        return multiprocessing.get_context("fork").Process._Popen(process_obj)


def _close_connections_before_fork() -> None:
    """The child must open its own connections, never reuse a socket the parent owns."""
    for connection in connections.all():
        if connection.vendor == "sqlite" and connection.is_in_memory_db():
            # Closing is what the fork needs, and closing an in-memory database drops it.
            raise RuntimeError("the live server needs a file or server database, not SQLite in memory")
    for connection in connections.all(initialized_only=True):
        connection.close()
        close_pool = getattr(connection, "close_pool", None)
        if close_pool is not None:
            # A psycopg pool's idle connections would be shared with the child otherwise.
            close_pool()


def _reset_inherited_executors() -> None:
    """Runs in the child: threads do not survive a fork, executors that owned them do.

    asgiref's shared single-thread executor still counts its dead worker, so any
    ``sync_to_async`` call outside a thread-sensitive context would wait forever
    (``conversations.aio`` resets its own pool after a fork).
    """
    SyncToAsync.single_thread_executor = ThreadPoolExecutor(max_workers=1)
    AsyncToSync.loop_thread_executors.clear()


class LiveAsgiServer:
    """Start/stop a daphne child process serving ``config.asgi:application``."""

    def __init__(self, *, startup_timeout: float = STARTUP_TIMEOUT) -> None:
        self.startup_timeout = startup_timeout
        self.process: DaphneProcess | None = None
        self.port: int | None = None

    @property
    def url(self) -> str:
        if self.port is None:
            raise RuntimeError("the server is not running")
        return f"http://{HOST}:{self.port}"

    def start(self) -> LiveAsgiServer:
        _close_connections_before_fork()
        process = _ForkedDaphneProcess(
            HOST,
            make_application,
            setup=_reset_inherited_executors,
            kwargs={
                # Tests end sockets on purpose; don't let shutdown wait on them.
                "application_close_timeout": 2,
            },
        )
        process.start()
        self.process = process
        deadline = time.monotonic() + self.startup_timeout
        # Short waits, so a server that died on start-up is reported at once.
        while not process.ready.wait(0.1):
            if not process.is_alive() or time.monotonic() > deadline:
                error = process.errors.get(False)[1] if not process.errors.empty() else "no error reported"
                self.stop()
                raise RuntimeError(f"daphne did not start: {error}")
        self.port = process.port.value
        return self

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None:
            return
        process.terminate()
        process.join(timeout=10)
        if process.is_alive():
            process.kill()
            process.join(timeout=5)
        self.port = None

    def __enter__(self) -> LiveAsgiServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


@pytest.fixture
def asgi_server(transactional_db: None, settings: Any, fake_llm: FakeOpenAI) -> Iterator[str]:
    """Base URL (``http://127.0.0.1:<port>``) of a real daphne serving the app on the test DB.

    The server talks to ``fake_llm``. Other settings the server must see (``STREAM_FLUSH_MS``,
    ``LLM_READ_TIMEOUT``, …) have to be changed before this fixture runs: in an autouse
    fixture, or in a fixture the test lists before ``asgi_server``.
    """
    if HOST not in settings.ALLOWED_HOSTS:
        settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, HOST]
    with LiveAsgiServer() as server:
        yield server.url
