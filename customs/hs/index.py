"""The process's retrieval index: built from the database once per data version.

Classification checks the data version (one indexed read) on every turn; when it moved
(``load_hscodes``, an admin edit) the next turn rebuilds the index in a worker thread, and
turns arriving meanwhile wait for that one build (about 5 s for the full data, once per
process and data change). Building and searching never run on the event loop: both are
CPU work (Kiwi, BM25).
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from conversations.aio import LazyThreadPool, run_db
from customs.hs import selectors
from customs.hs.retrieval import HSIndex

logger = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True)
class LoadedIndex:
    version: str
    index: HSIndex
    # Titles by code (Korean where known, else English), for explanations.
    titles: dict[str, str]


_current: LoadedIndex | None = None
_build_lock = threading.Lock()
# Retrieval is CPU-bound: more threads than cores only queue on the GIL.
_cpu_threads = LazyThreadPool("hs", lambda: min(4, os.cpu_count() or 1))


def _forget_build_lock_in_child() -> None:
    # A lock held by a thread at the fork stays held in the child forever.
    global _build_lock
    _build_lock = threading.Lock()


os.register_at_fork(after_in_child=_forget_build_lock_in_child)


async def run_cpu(fn: Callable[[], T]) -> T:
    """Run CPU-heavy retrieval work off the event loop."""
    return await asyncio.get_running_loop().run_in_executor(_cpu_threads.get(), fn)


def build(source: selectors.IndexSource) -> LoadedIndex:
    started = time.perf_counter()
    index = HSIndex(headings=source.headings, subheadings=source.subheadings, examples=source.examples)
    titles = {e.code: e.title_ko or e.title_en for e in (*source.headings, *source.subheadings)}
    logger.info("hs index %s built: %d subheadings, %d examples in %.1f s", source.version, len(index),
                len(index.examples), time.perf_counter() - started)
    return LoadedIndex(version=source.version, index=index, titles=titles)


def _install(source: selectors.IndexSource) -> LoadedIndex:
    global _current
    with _build_lock:
        # Another turn may have built this version while we waited for the lock.
        if _current is None or _current.version != source.version:
            _current = build(source)
        return _current


async def current_index(*, version: str) -> LoadedIndex:
    """The index for data ``version``, built first if this process has an older one."""
    loaded = _current
    if loaded is not None and loaded.version == version:
        return loaded
    source = await run_db(selectors.index_source)
    return await run_cpu(lambda: _install(source))

