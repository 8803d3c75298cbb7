"""Serve the ASGI application with uvicorn: one worker process per core by default."""

from __future__ import annotations

from typing import Any

import uvicorn
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser


class Command(BaseCommand):
    help = (
        "Serve HTTP and WebSockets (uvicorn, uvloop, httptools). --workers defaults to WEB_CONCURRENCY "
        "(the number of cores with REDIS_URL, 1 in the embedded mode). SIGTERM ends every open stream "
        "with its terminal frame and final status, then stops."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
        parser.add_argument("--port", type=int, default=8000, help="port to bind (default 8000)")
        parser.add_argument("--workers", type=int, default=None, help="worker processes (default WEB_CONCURRENCY)")
        parser.add_argument("--proxy-headers", action="store_true",
                            help="trust X-Forwarded-For/-Proto from --forwarded-allow-ips")
        parser.add_argument("--forwarded-allow-ips", default="127.0.0.1")

    def handle(self, *args: Any, **options: Any) -> None:
        workers = options["workers"] or settings.WEB_CONCURRENCY
        if workers < 1:
            raise CommandError("--workers must be at least 1")
        if workers > 1 and not settings.REDIS_URL:
            raise CommandError("more than one worker needs REDIS_URL: the embedded mode keeps its state in memory")
        uvicorn.run(
            "config.asgi:application",
            host=options["host"],
            port=options["port"],
            workers=workers,
            loop="uvloop",
            http="httptools",
            ws="websockets",
            # Frames over the cap close the socket with 1009 (the websockets library's own close).
            ws_max_size=settings.WS_MAX_FRAME_BYTES,
            # Frames are small JSON: compressing them cost 8.5% of a worker's event loop at
            # 100 sessions (py-spy) for a few bytes saved.
            ws_per_message_deflate=False,
            lifespan="on",
            proxy_headers=options["proxy_headers"],
            forwarded_allow_ips=options["forwarded_allow_ips"],
            # A full reply takes seconds; our own drain ends streams before this matters.
            timeout_graceful_shutdown=10,
            backlog=2048,
            log_level=settings.LOGGING["root"]["level"].lower(),  # type: ignore[index]
            # uvicorn's own logging config gives its loggers handlers of their own, which
            # print WebSocket paths with their ?token= unmasked: without it they reach
            # Django's masking handler (settings.LOGGING).
            log_config=None,
            access_log=False,
        )
