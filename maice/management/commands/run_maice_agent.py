"""Run one MAICE agent worker on Redis Streams; start several for more capacity."""

from __future__ import annotations

import asyncio
import signal
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from conversations.llm import provider_close
from maice.worker import AgentWorker


class Command(BaseCommand):
    help = (
        "Run a MAICE agent worker: reads requests from the Redis stream maice:backend_to_agent "
        "(consumer group 'agents') and publishes each request's events. Needs REDIS_URL. "
        "SIGTERM or Ctrl-C stops taking requests and finishes the ones in hand."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--name", help="Consumer name in the group (default: host-pid).")
        parser.add_argument("--concurrency", type=int, help="Requests handled at once "
                            f"(default MAICE_AGENT_CONCURRENCY={settings.MAICE_AGENT_CONCURRENCY}).")
        parser.add_argument("--claim-idle-ms", type=int, help="Take over a dead worker's request once idle this long "
                            f"(default MAICE_AGENT_CLAIM_IDLE_MS={settings.MAICE_AGENT_CLAIM_IDLE_MS}).")

    def handle(self, *args: Any, name: str | None, concurrency: int | None, claim_idle_ms: int | None,
               **options: Any) -> None:
        if not settings.REDIS_URL:
            raise CommandError("REDIS_URL is not set: without Redis the agent runs inside the web process.")
        if concurrency is not None and concurrency < 1:
            raise CommandError("--concurrency must be at least 1.")
        if claim_idle_ms is not None and claim_idle_ms < 200:
            raise CommandError("--claim-idle-ms must be at least 200.")
        asyncio.run(self._run(AgentWorker(name=name, concurrency=concurrency, claim_idle_ms=claim_idle_ms)))

    async def _run(self, worker: AgentWorker) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, worker.stop)
        self.stderr.write(f"maice agent {worker.name}: waiting for requests (Ctrl-C to stop)")
        try:
            await worker.run()
        finally:
            await provider_close()
