"""Pacing: ``transport.rate_per_second`` across every thread of a send."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class RateLimiter:
    """Messages per second across all worker threads. Each caller
    reserves its slot under the lock and sleeps outside it, so the long-run rate is
    ``rate`` however many threads send. ``rate`` 0 means unlimited."""

    def __init__(
        self,
        rate: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.rate = rate
        self.clock = clock
        self.sleep = sleep
        self._next = 0.0
        self._lock = threading.Lock()

    def acquire(self, n: int = 1) -> float:
        """Wait until ``n`` messages may go; returns the seconds waited."""
        if self.rate <= 0 or n <= 0:
            return 0.0
        with self._lock:
            now = self.clock()
            start = max(self._next, now)
            self._next = start + n / self.rate
        wait = start - now
        if wait > 0:
            self.sleep(wait)
        return max(wait, 0.0)
