"""Sign-up limits per client IP and per address (README: The web app): a sliding window
in this process's memory. ``anniversary serve`` is one process; after a restart the
windows start empty, which lets through at most one more window's worth."""

from __future__ import annotations

import threading
from collections import deque
from datetime import datetime


class Window:
    def __init__(self, limit: int, seconds: int, max_keys: int = 100_000) -> None:
        self.limit = limit
        self.seconds = seconds
        self.max_keys = max_keys
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def hit(self, key: str, now: datetime) -> int:
        """Count one request for ``key``; 0 when allowed, else the seconds to wait."""
        t = now.timestamp()
        with self._lock:
            hits = self._hits.get(key)
            if hits is None:
                if len(self._hits) >= self.max_keys:
                    self._evict(t)
                hits = self._hits[key] = deque()
            while hits and hits[0] <= t - self.seconds:
                hits.popleft()
            if len(hits) >= self.limit:
                return max(1, int(hits[0] + self.seconds - t) + 1)
            hits.append(t)
            return 0

    def _evict(self, t: float) -> None:
        for key in [k for k, h in self._hits.items() if not h or h[-1] <= t - self.seconds]:
            del self._hits[key]
        if len(self._hits) >= self.max_keys:
            # Under a flood of distinct keys: forget the oldest half rather than grow.
            for key in sorted(self._hits, key=lambda k: self._hits[k][-1])[: self.max_keys // 2]:
                del self._hits[key]
