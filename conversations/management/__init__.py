"""Helpers shared by the conversations management commands."""

from __future__ import annotations

import time
from typing import Any


class ProgressBar:
    """A text progress bar on stderr, so it never mixes with data written to stdout.

    On a terminal it redraws one line; elsewhere (logs, CI, tests) it prints a line every
    ``every`` items, because carriage returns turn into noise in a file. A disabled bar
    (``--verbosity 0``) draws nothing.
    """

    def __init__(self, stream: Any, *, total: int, label: str, every: int = 500, width: int = 30,
                 enabled: bool = True) -> None:
        self.stream, self.total, self.label, self.every, self.width = stream, max(total, 0), label, every, width
        self.enabled = enabled
        self.done = 0
        self._last_drawn = 0
        self._tty = bool(getattr(stream, "isatty", lambda: False)())
        self._started = time.monotonic()

    def advance(self, count: int = 1) -> None:
        self.done += count
        if not self.enabled:
            return
        if self._tty or self.done - self._last_drawn >= self.every:
            self._draw()

    def finish(self) -> None:
        if not self.enabled:
            return
        if self.done != self._last_drawn or self.done == 0:
            self._draw()
        if self._tty:
            self.stream.write("", ending="\n")

    def _draw(self) -> None:
        self._last_drawn = self.done
        total = max(self.total, self.done, 1)
        filled = round(self.width * self.done / total)
        bar = "#" * filled + "." * (self.width - filled)
        elapsed = time.monotonic() - self._started
        line = f"{self.label} [{bar}] {self.done}/{max(self.total, self.done)} ({elapsed:.1f}s)"
        if self._tty:
            self.stream.write("\r" + line, ending="")
            self.stream.flush()
        else:
            self.stream.write(line)
