"""The in-process bus keeps Redis's event-id semantics; a lost Redis ends a stream with an event."""

from __future__ import annotations

import json
from typing import Any

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

from maice.streams import request_events
from maice.transport import LocalBus, valid_event_id


async def _never(job: dict[str, Any], bus: Any) -> None:
    return None


async def test_local_bus_ids_are_ordered_and_reads_resume_after_an_id() -> None:
    bus = LocalBus(_never)
    ids = [await bus.publish("r1", json.dumps({"type": "answer_chunk", "n": n})) for n in range(5)]
    assert all(valid_event_id(i) for i in ids) and len(set(ids)) == 5
    assert [tuple(map(int, i.split("-"))) for i in ids] == sorted(tuple(map(int, i.split("-"))) for i in ids)
    assert [e[0] for e in await bus.read("r1", ids[1], 0)] == ids[2:]
    assert await bus.read("r1", ids[-1], 0.01) == []
    assert [e[0] for e in await bus.history("r1")] == ids


class _LostRedis(LocalBus):
    async def read(self, request_id: str, after: str, wait: float) -> list[tuple[str, str]]:
        raise RedisConnectionError("gone")


@pytest.mark.django_db(transaction=True)
async def test_a_lost_redis_ends_the_stream_with_agent_unavailable() -> None:
    frames = [f async for f in request_events(_LostRedis(_never), request_id="r2", session_id=7)]
    assert len(frames) == 1
    lines = frames[0].decode().splitlines()
    assert valid_event_id(lines[0].removeprefix("id: "))
    event = json.loads(lines[1].removeprefix("data: "))
    assert (event["type"], event["error_code"], event["session_id"]) == ("error", "AGENT_UNAVAILABLE", 7)
