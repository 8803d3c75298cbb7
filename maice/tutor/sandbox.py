"""Run SymPy computations under a hard time and memory limit, in warm worker processes.

SymPy cannot be interrupted from another thread, and a few harmless-looking inputs
(an integral without an elementary antiderivative, a huge power) can run for minutes.
So computations run in child processes that the caller kills at the deadline. The
children are forked once from this (already warm) process and then reused: forking a
web process costs 25–50 ms, a round trip to a live child well under one. A child that
timed out, failed badly or served ``MAX_TASKS_PER_CHILD`` computations is replaced.
"""

from __future__ import annotations

import logging
import os
import resource
import signal
import threading
import time
from collections.abc import Callable
from multiprocessing.connection import Connection, Pipe
from multiprocessing.reduction import ForkingPickler
from typing import Any, TypeVar

T = TypeVar("T")
logger = logging.getLogger(__name__)

POOL_SIZE = max(1, min(4, os.cpu_count() or 1))
# Bounds the memory a child's SymPy caches may grow to before it is replaced.
MAX_TASKS_PER_CHILD = 500
# Above what the parent already uses: enough for any question a student types.
CHILD_EXTRA_MEMORY = 512 * 1024 * 1024
_PARENT_CHECK_SECONDS = 5.0
_MAX_FD = os.sysconf("SC_OPEN_MAX") if hasattr(os, "sysconf") else 65536


class ComputationTimeout(Exception):
    pass


class ComputationFailed(Exception):
    """The computation raised; ``kind`` is the exception's class name, ``detail`` its message."""

    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(f"{kind}: {detail}")
        self.kind = kind
        self.detail = detail


def _limit_memory() -> None:
    try:
        with open("/proc/self/statm") as statm:
            pages = int(statm.read().split()[0])
        address_space = pages * os.sysconf("SC_PAGE_SIZE") + CHILD_EXTRA_MEMORY
        resource.setrlimit(resource.RLIMIT_AS, (address_space, address_space))
    except (OSError, ValueError):
        pass


def _serve(conn: Connection, parent: int) -> None:
    """The child's loop: one ``(fn, args)`` in, one ``(status, value)`` out, until EOF."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C in a terminal is the parent's to handle
    _limit_memory()
    while True:
        try:
            if not conn.poll(_PARENT_CHECK_SECONDS):
                if os.getppid() != parent:
                    return  # the parent died (killed with -9): nobody will ever ask again
                continue
            fn, args = conn.recv()
        except (EOFError, OSError):
            return  # the parent closed its end
        try:
            reply: tuple[str, Any] = ("ok", fn(*args))
        except MemoryError:
            reply = ("fatal", ("MemoryError", "out of memory"))
        except BaseException as exc:  # noqa: BLE001 - every failure goes back to the parent
            reply = ("error", (type(exc).__name__, str(exc)[:500]))
        try:
            conn.send(reply)
        except (OSError, ValueError):
            return


class _Child:
    def __init__(self) -> None:
        parent_end, child_end = Pipe()
        parent = os.getpid()
        pid = os.fork()
        if pid == 0:  # the child: never return into the parent's code
            status = 0
            try:
                # Only the pipe stays open: a copy of the parent's sockets (database, Redis,
                # clients) or of a sibling's pipe must not outlive the parent's own use of it.
                keep = child_end.fileno()
                os.closerange(3, keep)
                os.closerange(keep + 1, _MAX_FD)
                _serve(child_end, parent)
            except BaseException:  # noqa: BLE001
                status = 1
            finally:
                os._exit(status)
        child_end.close()
        self.pid = pid
        self.conn: Connection = parent_end
        self.tasks = 0

    def stop(self) -> None:
        try:
            os.kill(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.conn.close()
        try:
            os.waitpid(self.pid, 0)
        except ChildProcessError:
            pass


class _Pool:
    """At most ``size`` children; a caller takes an idle one, or waits for one."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._idle: list[_Child] = []
        self._live: set[_Child] = set()
        self._starting = 0
        self._cond = threading.Condition()
        self._owner = os.getpid()

    def _take(self, deadline: float) -> _Child:
        with self._cond:
            if self._owner != os.getpid():  # a forked copy of the parent: its children are not ours
                self._idle, self._live, self._starting, self._owner = [], set(), 0, os.getpid()
            while True:
                if self._idle:
                    return self._idle.pop()
                if len(self._live) + self._starting < self.size:
                    self._starting += 1
                    break
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not self._cond.wait(remaining):
                    raise ComputationTimeout("every computation worker is busy")
        child = None
        try:
            child = _Child()
        finally:
            with self._cond:
                self._starting -= 1
                if child is not None:
                    self._live.add(child)
                self._cond.notify()
        return child

    def _give_back(self, child: _Child) -> None:
        with self._cond:
            self._idle.append(child)
            self._cond.notify()

    def _discard(self, child: _Child) -> None:
        child.stop()
        with self._cond:
            self._live.discard(child)
            self._cond.notify()

    def run(self, fn: Callable[..., T], args: tuple[Any, ...], timeout: float) -> T:
        deadline = time.monotonic() + timeout
        child = self._take(deadline)
        status: str = "fatal"
        value: Any = ("Crashed", "the worker ended without a result")
        try:
            request = ForkingPickler.dumps((fn, args))
        except Exception:
            self._give_back(child)  # nothing was sent: the worker is as good as before
            raise
        try:
            child.conn.send_bytes(request)
            if child.conn.poll(max(0.0, deadline - time.monotonic())):
                status, value = child.conn.recv()
            else:
                status, value = "timeout", None
        except (EOFError, OSError):
            pass
        child.tasks += 1
        if status in ("ok", "error") and child.tasks < MAX_TASKS_PER_CHILD:
            self._give_back(child)
        else:
            self._discard(child)
        if status == "ok":
            return value  # type: ignore[no-any-return]
        if status == "timeout":
            raise ComputationTimeout(f"no result within {timeout} s")
        raise ComputationFailed(*value)


_pool = _Pool(POOL_SIZE)


def run_bounded(fn: Callable[..., T], *args: Any, timeout: float) -> T:
    """``fn(*args)`` computed in a worker process killed after ``timeout`` seconds.

    ``fn`` must be a module-level function (it is sent to the worker by reference).
    """
    if not hasattr(os, "fork"):
        return fn(*args)
    return _pool.run(fn, args, timeout)
