"""One Kiwi analyser per process, built on first use.

Building it takes about a second and its first analysis another; ``kiwi_warm`` does both
at start-up so no user waits for them. Kiwi's ``tokenize`` is safe to call from several
threads once built.
"""

from __future__ import annotations

import threading
from typing import Any

_kiwi: Any = None
_lock = threading.Lock()


def kiwi() -> Any:
    global _kiwi
    if _kiwi is None:
        with _lock:
            if _kiwi is None:
                from kiwipiepy import Kiwi

                _kiwi = Kiwi()
    return _kiwi


def kiwi_warm() -> None:
    kiwi().tokenize("워밍업으로 한 문장을 분석해 둬요.")
