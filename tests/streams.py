"""Helpers for tests of async streams."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterable
from typing import TypeVar

import pytest

T = TypeVar("T")


async def cancel_after_first(source: AsyncIterable[T], *, timeout: float = 3.0) -> list[T]:
    """Consume ``source`` in a task, cancel that task once an item has arrived, and return
    the items read. The cancellation must come out of the task as ``CancelledError``."""
    items: list[T] = []
    first = asyncio.Event()

    async def consume() -> None:
        async for item in source:
            items.append(item)
            first.set()

    task = asyncio.create_task(consume())
    await asyncio.wait_for(first.wait(), timeout)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, timeout)
    return items
