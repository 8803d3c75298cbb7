"""Run one SymPy computation under a hard time and memory limit.

SymPy cannot be interrupted from another thread, and a few harmless-looking inputs
(an integral without an elementary antiderivative, a huge power) can run for minutes.
So the computation runs in a forked child that is killed at the deadline; only a
pickled result (strings) comes back. The parent imports and warms SymPy first, so
children start with its modules loaded and its caches filled.
"""

from __future__ import annotations

import logging
import os
import pickle
import resource
import select
import signal
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")
logger = logging.getLogger(__name__)

# Above what the parent already uses: enough for any question a student types.
CHILD_EXTRA_MEMORY = 512 * 1024 * 1024
_MAX_RESULT_BYTES = 1024 * 1024


class ComputationTimeout(Exception):
    pass


class ComputationFailed(Exception):
    """The child raised; ``kind`` is the exception's class name, ``detail`` its message."""

    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(f"{kind}: {detail}")
        self.kind = kind
        self.detail = detail


def _limit_child(timeout: float) -> None:
    try:
        with open("/proc/self/statm") as statm:
            pages = int(statm.read().split()[0])
        address_space = pages * os.sysconf("SC_PAGE_SIZE") + CHILD_EXTRA_MEMORY
        resource.setrlimit(resource.RLIMIT_AS, (address_space, address_space))
    except (OSError, ValueError):
        pass
    cpu = int(timeout) + 2
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu))


def run_bounded(fn: Callable[[], T], *, timeout: float) -> T:
    """``fn()``'s result, computed in a child killed after ``timeout`` seconds."""
    if not hasattr(os, "fork"):
        return fn()
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: compute, write, leave without running any of the parent's cleanup
        status = 0
        try:
            os.close(read_fd)
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            _limit_child(timeout)
            try:
                payload = pickle.dumps(("ok", fn()))
            except BaseException as exc:  # noqa: BLE001 - everything goes back to the parent
                payload = pickle.dumps(("error", (type(exc).__name__, str(exc)[:500])))
            with os.fdopen(write_fd, "wb") as pipe:
                pipe.write(payload)
        except BaseException:  # noqa: BLE001 - a child must never return into the parent's code
            status = 1
        finally:
            os._exit(status)

    os.close(write_fd)
    deadline = time.monotonic() + timeout
    chunks: list[bytes] = []
    size = 0
    finished = False
    try:
        while (remaining := deadline - time.monotonic()) > 0:
            ready, _, _ = select.select([read_fd], [], [], remaining)
            if not ready:
                break
            chunk = os.read(read_fd, 65536)
            if not chunk:
                finished = True
                break
            chunks.append(chunk)
            size += len(chunk)
            if size > _MAX_RESULT_BYTES:
                break
    finally:
        os.close(read_fd)
        if not finished:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        os.waitpid(pid, 0)
    if not finished:
        raise ComputationTimeout(f"no result within {timeout} s")
    if not chunks:
        raise ComputationFailed("Crashed", "the computation ended without a result")
    status, value = pickle.loads(b"".join(chunks))
    if status == "error":
        raise ComputationFailed(*value)
    return value  # type: ignore[no-any-return]
