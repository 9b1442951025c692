"""The daemon's loop: the flags signal handlers set, and the APScheduler loop that
ends on them (huey style: a handler only sets a flag)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from threading import TIMEOUT_MAX
from typing import Any

from apscheduler.schedulers.base import STATE_STOPPED
from apscheduler.schedulers.blocking import BlockingScheduler


@dataclass
class Flags:
    """Written by signal handlers, read by the scheduler's jobs; nothing else happens in
    a handler (a lock taken there could deadlock against the interrupted thread)."""

    stop: bool = False
    reload: bool = False
    #: the stop signal's number, so the loop can name it if it ended before the
    #: watcher thread logged it (a signal in the moment the loop starts)
    stop_signal: int = 0


class DaemonScheduler(BlockingScheduler):  # type: ignore[misc]  # APScheduler 3 ships no types
    """BlockingScheduler whose loop also ends once the stop flag is set, so the shutdown
    happens in the loop's own thread: APScheduler 3.11's shutdown() called from another
    thread while _process_jobs runs can raise JobLookupError in the loop."""

    def __init__(self, stop_requested: Callable[[], bool], **options: Any) -> None:
        super().__init__(**options)
        self._stop_requested = stop_requested

    def _main_loop(self) -> None:
        wait_seconds: float | None = TIMEOUT_MAX
        while self.state != STATE_STOPPED and not self._stop_requested():
            self._event.wait(wait_seconds)
            self._event.clear()
            if self._stop_requested():
                break
            wait_seconds = self._process_jobs()
